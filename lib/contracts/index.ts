/**
 * Every HTTP operation's contract, for what reads them all (the contract test, the fuzzer). A
 * function imports only its own family's module, so its bundle carries only its own schemas.
 */
export * as nextauth from './nextauth.ts';
export * as svix from './svix.ts';
