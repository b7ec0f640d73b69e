import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';

/**
 * CloudFormation's resource specification, as the AWS CDK publishes it: `db.json.gz` of the npm
 * package @aws-cdk/aws-service-spec (built from the CloudFormation registry schemas). Read
 * directly: the package's own loader pulls in a database library for what is one JSON document
 * with three tables we need (resources, their property types, and the types' ids).
 */

export type SpecType =
  | { type: 'string'; allowedValues?: string[] }
  | { type: 'integer' | 'number' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'array' | 'map'; element: SpecType }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'union'; types: SpecType[] };

export interface SpecProperty {
  type: SpecType;
  previousTypes?: SpecType[];
  required?: boolean;
  deprecated?: string;
}

export interface SpecResource {
  cloudFormationType: string;
  properties: Record<string, SpecProperty>;
  attributes: Record<string, { type: SpecType }>;
}

export interface SpecTypeDefinition {
  name: string;
  properties: Record<string, SpecProperty>;
}

export interface CfnSpec {
  resource(type: string): SpecResource | undefined;
  typeDefinition(id: string): SpecTypeDefinition;
}

interface Db {
  schema: {
    resource: { entities: SpecResource[] };
    typeDefinition: { entities: Array<SpecTypeDefinition & { $id: string }> };
  };
}

let cached: CfnSpec | undefined;

/** Loaded once per test file (about 0.3 s). */
export function loadCfnSpec(): CfnSpec {
  if (cached) return cached;
  const file = createRequire(import.meta.url).resolve('@aws-cdk/aws-service-spec/db.json.gz');
  const db = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Db;
  const resources = new Map(db.schema.resource.entities.map((r) => [r.cloudFormationType, r]));
  const types = new Map(db.schema.typeDefinition.entities.map((t) => [t.$id, t]));
  cached = {
    resource: (type) => resources.get(type),
    typeDefinition: (id) => {
      const t = types.get(id);
      if (!t) throw new Error(`aws-service-spec: no type definition ${id}`);
      return t;
    },
  };
  return cached;
}
