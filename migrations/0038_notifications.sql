-- Notifications: channels (where a message goes, its secret sealed), rules (which
-- changes of the audit trail to tell a channel about), and the outbox of messages,
-- matched from the trail in order behind one cursor and kept once sent (the retention
-- purge removes old ones), so a channel's deliveries can be read back.
CREATE TABLE notification_channels (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    kind        text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    -- What may be shown: a webhook's URL, a Slack webhook's host, a mail server and
    -- its recipients. The secret part (a signing secret, the Slack URL, the SMTP
    -- password) is sealed with the channel's id as context.
    config      jsonb NOT NULL,
    sealed      bytea,
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notification_rules (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    channel_id  uuid NOT NULL REFERENCES notification_channels (id),
    event       text NOT NULL CHECK (event IN ('run.finished', 'scan.finished', 'findings.new',
                                               'acceptance.expiring', 'approval.requested')),
    module_id   uuid REFERENCES modules (id),
    tool        text REFERENCES tools (name),
    -- Empty: every end.
    statuses    text[] NOT NULL DEFAULT '{}',
    -- findings.new: the least severity told (finding_states' severity_rank, 0 critical).
    min_severity_rank smallint,
    -- acceptance.expiring: how long before the expiry.
    days_before integer CHECK (days_before BETWEEN 1 AND 90),
    enabled     boolean NOT NULL DEFAULT true,
    version     integer NOT NULL DEFAULT 1,
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_rules_by_event ON notification_rules (event) WHERE enabled;

CREATE TABLE notification_outbox (
    id              bigserial PRIMARY KEY,
    -- None for a test message an admin asked for.
    rule_id         uuid REFERENCES notification_rules (id) ON DELETE CASCADE,
    channel_id      uuid NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    event           text NOT NULL,
    -- What the message is about, so one change is told once per rule: the audit event's
    -- id, or an acceptance with its expiry.
    dedupe_key      text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (rule_id, dedupe_key)
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_outbox_by_channel ON notification_outbox (channel_id, id DESC);

-- The last audit event matched against the rules: one row, locked by whichever api
-- replica matches, so each event is matched once. It starts at the trail's end: rules
-- tell of what happens after they exist.
CREATE TABLE notification_cursor (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    audit_id    bigint NOT NULL
);
INSERT INTO notification_cursor (audit_id) SELECT coalesce(max(id), 0) FROM audit_events;
