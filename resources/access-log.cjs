'use strict';

/**
 * The HTTP API's access log format (provider.logs.httpApi.format in serverless.yml): one JSON line
 * per request, refused ones included (401/403 from the JWT or IAM authorizer, 429 from a throttle,
 * which never reach a function), so docs/audit.md's queries find who was refused at the gateway
 * and in the functions alike. The names are the functions' audit record names where they mean the
 * same thing (lib/audit.ts: apiRequestId, status, sourceIp, userAgent, caller.sub, caller.clientId,
 * caller.arn); API Gateway's own meaning otherwise. Variables:
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
 *
 * Never here: a request header (the Authorization header is the credential), the path or query
 * string (`$context.path`, `$request.*`): `routeKey` names the route, not what was in it.
 */

/**
 * Field → `$context` variable. Numbers are written unquoted so a query's `status >= 400` compares
 * numbers in both sources; only variables API Gateway always fills are numbers (an empty one, `-`,
 * would break the line's JSON).
 */
const FIELDS = {
  msg: { text: 'access' },
  apiRequestId: '$context.requestId',
  time: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: { number: '$context.status' },
  // Why API Gateway answered as it did ("Unauthorized", "Too Many Requests", …), and what the
  // authorizer and the integration said.
  reason: '$context.error.message',
  authorizerError: '$context.authorizer.error',
  integrationError: '$context.integrationErrorMessage',
  integrationStatus: '$context.integrationStatus',
  // The names of API Gateway's metrics (Latency, IntegrationLatency) that the dashboard charts.
  latencyMs: { number: '$context.responseLatency' },
  integrationLatencyMs: '$context.integrationLatency',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  // Who: the JWT's subject and client (callerAuth=jwt) or the signing principal (callerAuth=iam).
  caller: {
    sub: '$context.authorizer.claims.sub',
    clientId: '$context.authorizer.claims.client_id',
    arn: '$context.identity.userArn',
  },
};

const member = (name, value) => {
  if (typeof value === 'string') return `${JSON.stringify(name)}:${JSON.stringify(value)}`;
  if ('text' in value) return `${JSON.stringify(name)}:${JSON.stringify(value.text)}`;
  if ('number' in value) return `${JSON.stringify(name)}:${value.number}`;
  return `${JSON.stringify(name)}:{${Object.entries(value)
    .map(([n, v]) => member(n, v))
    .join(',')}}`;
};

/** The format string: a JSON object once API Gateway has put the values in. */
const format = () =>
  `{${Object.entries(FIELDS)
    .map(([name, value]) => member(name, value))
    .join(',')}}`;

module.exports = format;
module.exports.FIELDS = FIELDS;
