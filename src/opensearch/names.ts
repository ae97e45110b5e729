/** The data stream every audit event is written to (see index-templates/audit-events.json). */
export const AUDIT_STREAM = "audit-events";
