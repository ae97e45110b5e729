/**
 * @module http/dev-token
 * Mints HS256 tokens for local use and tests (`npm run token`). Production tokens come from
 * ScaiVault's identity service; this only signs with the shared secret the service verifies.
 */
import { SignJWT } from "jose";

export async function mintToken(
  secret: string,
  claims: { sub: string; tenant: string; scope: string },
  ttlSeconds = 3600,
): Promise<string> {
  return new SignJWT({ tenant: claims.tenant, scope: claims.scope })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
