import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { ServerId } from '#lib/schemas/nextauth';
import { normaliseServerId } from '#lib/schemas/server-id';

describe('normaliseServerId', () => {
  it('turns base64url (padded or not) into standard base64 with its padding', () => {
    expect(normaliseServerId('c2FuZGJveC1zZXJ2ZXI_Pj4-MQ')).toBe('c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==');
    expect(normaliseServerId('c2FuZGJveC1zZXJ2ZXI_Pj4-MQ==')).toBe('c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==');
    expect(normaliseServerId('c2VydmVyL2pvYnM-Pz4')).toBe('c2VydmVyL2pvYnM+Pz4=');
    expect(normaliseServerId('YWJj')).toBe('YWJj');
  });

  it('leaves the standard form as it is', () => {
    for (const id of ['c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==', 'c2VydmVyL2pvYnM+Pz4=', 'YWJj']) expect(normaliseServerId(id)).toBe(id);
  });

  it('gives back what is no base64 unchanged, for the schema to refuse (the tenant guard calls it on raw input)', () => {
    for (const id of ['', '*', 'a b', 'abcde', 'ab=c', '%2F']) expect(normaliseServerId(id)).toBe(id);
  });
});

describe('ServerId', () => {
  it('outputs the standard form, so every consumer gets one spelling', () => {
    expect(v.parse(ServerId, 'c2FuZGJveC1zZXJ2ZXI_Pj4-MQ')).toBe('c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==');
    expect(v.parse(ServerId, `${'A'.repeat(255)}`)).toBe(`${'A'.repeat(255)}=`);
  });

  it('refuses lengths no base64 has and wrong padding', () => {
    for (const id of ['abcde', 'abcd==', 'ab=', 'abc==', 'a===']) expect(v.safeParse(ServerId, id).success).toBe(false);
  });
});
