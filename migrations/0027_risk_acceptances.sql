-- Risk acceptance, decided by two people: a request names one finding or a check's
-- findings (across accounts, regions, and resources matching a pattern), a reason and
-- an expiry; it takes effect when someone other than the requester approves it. Its
-- findings then stand `accepted` until it expires or is revoked.
CREATE TABLE risk_acceptances (
    id              uuid PRIMARY KEY,
    tool            text NOT NULL REFERENCES tools (name),
    fingerprint     text CHECK (length(fingerprint) = 64
                                AND length(decode(fingerprint, 'hex')) = 32
                                AND fingerprint = lower(fingerprint)),
    check_id        text,
    -- Empty: any account, any region.
    accounts        text[] NOT NULL DEFAULT '{}',
    regions         text[] NOT NULL DEFAULT '{}',
    -- The resource pattern as given (`*` any run of characters), and as LIKE reads it.
    resource        text,
    resource_like   text,
    reason          text NOT NULL CHECK (length(reason) > 0),
    expires_at      timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'requested'
                    CHECK (status IN ('requested', 'approved', 'rejected', 'revoked', 'expired')),
    requested_by    uuid NOT NULL REFERENCES users (id),
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_by      uuid REFERENCES users (id),
    decided_at      timestamptz,
    decision_comment text,
    ended_by        uuid REFERENCES users (id),
    ended_at        timestamptz,
    end_comment     text,
    CHECK ((fingerprint IS NULL) <> (check_id IS NULL)),
    CHECK (fingerprint IS NULL OR (accounts = '{}' AND regions = '{}' AND resource IS NULL)),
    CHECK ((resource IS NULL) = (resource_like IS NULL)),
    CHECK ((status = 'requested') = (decided_at IS NULL)),
    CHECK (decided_by IS NULL OR decided_by <> requested_by)
);
CREATE INDEX risk_acceptances_listing ON risk_acceptances (requested_at DESC, id);
-- Settling looks up the tool's acceptances in effect; the sweeper those past expiry.
CREATE INDEX risk_acceptances_in_effect ON risk_acceptances (tool, expires_at)
    WHERE status = 'approved';

-- The acceptance a finding stands accepted by, and the state it would have without it
-- (open or reopened: where it returns when the acceptance ends).
ALTER TABLE finding_states
    ADD COLUMN acceptance_id uuid REFERENCES risk_acceptances (id),
    ADD COLUMN accepted_over text CHECK (accepted_over IN ('open', 'reopened')),
    ADD CONSTRAINT finding_states_accepted_by
        CHECK ((state = 'accepted') = (acceptance_id IS NOT NULL)
               AND (acceptance_id IS NULL) = (accepted_over IS NULL));
CREATE INDEX finding_states_by_acceptance ON finding_states (acceptance_id)
    WHERE acceptance_id IS NOT NULL;

-- A change made by an acceptance (its approval, expiry or revocation) has no run.
ALTER TABLE finding_events
    ALTER COLUMN execution_id DROP NOT NULL,
    ADD COLUMN acceptance_id uuid REFERENCES risk_acceptances (id),
    ADD CONSTRAINT finding_events_cause CHECK (num_nonnulls(execution_id, acceptance_id) >= 1);

-- Approvers hear of requests and their ends through the approval notices' webhook.
ALTER TABLE approval_outbox
    ALTER COLUMN execution_id DROP NOT NULL,
    ADD COLUMN acceptance_id uuid REFERENCES risk_acceptances (id),
    DROP CONSTRAINT approval_outbox_event_check,
    ADD CONSTRAINT approval_outbox_event_check CHECK (event IN (
        'approval.requested', 'approval.resolved',
        'risk_acceptance.requested', 'risk_acceptance.resolved')),
    ADD CONSTRAINT approval_outbox_subject CHECK (num_nonnulls(execution_id, acceptance_id) = 1);
