-- GET /api/v1/evidence: reports newest first, paged by keyset.
CREATE INDEX evidence_listing ON evidence (created_at DESC, id DESC);
