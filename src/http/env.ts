/**
 * @module http/env
 * What middleware puts on the request context for handlers.
 */
import type { Tenant } from "../tenancy/tenant-scope.ts";

/** The verified caller. The tenant comes from the token and from nowhere else. */
export interface Principal {
  subject: string;
  tenant: string;
  scopes: ReadonlySet<string>;
  /** When the token expires (epoch ms), if it says: long-lived responses end then. */
  expiresAt?: number;
}

export type AppEnv = {
  Variables: {
    requestId: string;
    principal: Principal;
    /** On event reads: the principal's tenant with its retention cut-off (features/retention). */
    tenant: Tenant;
  };
};
