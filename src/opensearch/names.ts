/** The data stream every audit event is written to (see index-templates/audit-events.json). */
export const AUDIT_STREAM = "audit-events";

/** Export jobs, one document each (see index-templates/scaivault-exports.json). */
export const EXPORT_JOBS_INDEX = "scaivault-exports";

/** Per-tenant settings such as retention (see index-templates/scaivault-tenants.json). */
export const TENANTS_INDEX = "scaivault-tenants";

/** The summaries' hourly rollup rows and its watermark (see index-templates/scaivault-rollup.json). */
export const ROLLUP_INDEX = "scaivault-rollup";

/** Each tenant's Merkle log, its checkpoints and the sealer's watermark (see index-templates/scaivault-integrity.json). */
export const INTEGRITY_INDEX = "scaivault-integrity";

/** Delivery destinations and each one's delivery state (see index-templates/scaivault-destinations.json). */
export const DESTINATIONS_INDEX = "scaivault-destinations";
