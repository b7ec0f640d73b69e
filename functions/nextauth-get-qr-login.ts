import { getQrLoginContract } from '#lib/contracts/nextauth';
import { binary, operationHandler } from '#lib/http';
import { getQrLogin } from '#lib/upstream/nextauth';

/**
 * `GET /servers/{serverid}/sessions/qr/login`: the login QR code as raw bytes, or a PNG of `s`
 * pixels with `img=png`, always `application/octet-stream` (base64 in the Lambda result).
 */
export const handler = operationHandler(getQrLoginContract, async ({ path, headers, query, body }, { call }) =>
  binary(200, await getQrLogin(path.serverid, headers['x-nonce'], query, body, call), 'application/octet-stream'),
);
