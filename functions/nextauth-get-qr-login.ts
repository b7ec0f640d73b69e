import { binary, header, httpHandler } from '#lib/http';
import { MAX_USER_CONTEXT_BYTES, Nonce, OptionalUserContext, QrLoginQuery, ServerId } from '#lib/schemas/nextauth';
import { getQrLogin } from '#lib/upstream/nextauth';
import { validate } from '#lib/validation';

/**
 * `GET /servers/{serverid}/sessions/qr/login`: the login QR code as raw bytes, or as a PNG of
 * `s` pixels with `img=png`, always `application/octet-stream` (base64 in the Lambda result,
 * bytes again on the wire). An optional UserContext JSON body is forwarded on the GET.
 */
export const handler = httpHandler(
  async (event, { deadline }) => {
    const serverId = validate(ServerId, event.pathParameters?.serverid, ['path', 'serverid'], 'nextauth');
    const nonce = validate(Nonce, header(event, 'x-nonce'), ['header', 'x-nonce'], 'nextauth');
    const query = validate(QrLoginQuery, event.queryStringParameters ?? {}, ['query'], 'nextauth');
    const userContext = validate(OptionalUserContext, event.body, ['body'], 'nextauth');

    const bytes = await getQrLogin(serverId, nonce, query, userContext, { deadline });
    return binary(200, bytes, 'application/octet-stream');
  },
  {
    operation: 'nextauth.get-qr-login',
    family: 'nextauth',
    body: 'optional-json',
    maxBodyBytes: MAX_USER_CONTEXT_BYTES,
    tenant: { kind: 'nextauth', pathParameter: 'serverid' },
  },
);
