//! Schema migrations of the terminal database, tracked in `PRAGMA user_version`.
//!
//! Migrations are append-only: version N is reached by running every step
//! after the database's current version, in order, in one transaction. Never
//! edit or reorder a step that has shipped; add a new one.

/// One step of the schema, run to go from version `index` to `index + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// Version 1: parcels, operators, the outbox and sync state.
const V1: &str = "
-- Parcels known to this store, from the manifest or received unannounced.
CREATE TABLE parcels (
    barcode         TEXT PRIMARY KEY,
    order_id        TEXT,
    customer_masked TEXT NOT NULL DEFAULT '',
    phone_last4     TEXT NOT NULL DEFAULT '',
    courier         TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    unexpected      INTEGER NOT NULL DEFAULT 0,
    shelf           TEXT,
    deadline        TEXT,
    received_at     TEXT,
    received_by     TEXT,
    reject_reason   TEXT,
    reject_note     TEXT,
    return_cause    TEXT,
    return_note     TEXT,
    handed_over_at  TEXT,
    handed_over_by  TEXT,
    returned_at     TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX parcels_by_state ON parcels (state);

CREATE TABLE operators (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    pin_hash   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The signed-in operator, at most one row.
CREATE TABLE session (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    operator_id  TEXT NOT NULL REFERENCES operators (id),
    signed_in_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);

-- One row per clerk action, in per-terminal sequence order.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    barcode     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    device_time TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'quarantined')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     TEXT
);
CREATE INDEX outbox_by_status ON outbox (status, seq);

-- Single-row counters and identity of this terminal.
CREATE TABLE terminal (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq INTEGER NOT NULL
);
INSERT INTO terminal (id, next_seq) VALUES (1, 1);

-- Verification codes, as keyed hashes only.
CREATE TABLE codes (
    code_id   TEXT PRIMARY KEY,
    code_hash BLOB NOT NULL,
    issued_at TEXT NOT NULL
);
CREATE INDEX codes_by_hash ON codes (code_hash);

CREATE TABLE code_parcels (
    code_id TEXT NOT NULL REFERENCES codes (code_id) ON DELETE CASCADE,
    barcode TEXT NOT NULL,
    PRIMARY KEY (code_id, barcode)
);
CREATE INDEX code_parcels_by_barcode ON code_parcels (barcode);

-- Times of wrong code entries, for the lock after repeated failures.
CREATE TABLE code_failures (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL
);

CREATE TABLE sync_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    cursor       TEXT,
    last_sync_at TEXT,
    last_error   TEXT,
    online       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO sync_state (id) VALUES (1);
";

/// Version 2: conflicts reported by the backend, for the clerk to see.
const V2: &str = "
CREATE TABLE conflicts (
    conflict_id  TEXT PRIMARY KEY,
    barcode      TEXT NOT NULL,
    event_id     TEXT,
    message      TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 0
);
";

/// Version 3: pulled changes that were skipped because they could not be
/// decoded or broke the input rules, kept so the clerk sees them.
const V3: &str = "
CREATE TABLE skipped_changes (
    id           INTEGER PRIMARY KEY,
    -- The change's type and barcode, when they were readable text.
    change_type  TEXT,
    barcode      TEXT,
    reason       TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 0
);
";

/// Version 4: counter sessions (courier drops, returns to a courier,
/// stocktakes) and the parcels scanned into each.
const V4: &str = "
CREATE TABLE counter_sessions (
    session_id  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('drop', 'return', 'stocktake')),
    -- Set for drops and returns.
    courier_id  TEXT,
    -- The parcel count the courier declared, for drops only.
    declared    INTEGER,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    opened_at   TEXT NOT NULL,
    closed_at   TEXT,
    closed_by   TEXT REFERENCES operators (id)
);
-- At most one open session of each kind.
CREATE UNIQUE INDEX counter_sessions_open ON counter_sessions (kind) WHERE closed_at IS NULL;

-- One row per parcel scanned into a session; a repeated scan keeps the first.
CREATE TABLE session_scans (
    session_id TEXT NOT NULL REFERENCES counter_sessions (session_id),
    barcode    TEXT NOT NULL,
    -- received or rejected (drops), return (returns), seen (stocktakes).
    outcome    TEXT NOT NULL CHECK (outcome IN ('received', 'rejected', 'return', 'seen')),
    scanned_at TEXT NOT NULL,
    PRIMARY KEY (session_id, barcode)
);
CREATE INDEX outbox_by_device_time ON outbox (device_time);
";

/// Version 5: the number of parcels on each shelf, kept by triggers, so
/// that the shelf suggestion of each receipt reads a row per shelf instead
/// of every parcel in the store. A parcel counts while it has a shelf and is
/// received, ready or to be returned, the states of `ParcelState::is_on_shelf`.
const V5: &str = "
CREATE TABLE shelf_load (
    shelf   TEXT PRIMARY KEY,
    parcels INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO shelf_load (shelf, parcels)
    SELECT shelf, COUNT(*) FROM parcels
    WHERE shelf IS NOT NULL AND state IN ('received', 'ready', 'return_pending')
    GROUP BY shelf;

CREATE TRIGGER shelf_load_insert AFTER INSERT ON parcels
WHEN NEW.shelf IS NOT NULL AND NEW.state IN ('received', 'ready', 'return_pending')
BEGIN
    INSERT INTO shelf_load (shelf, parcels) VALUES (NEW.shelf, 1)
        ON CONFLICT (shelf) DO UPDATE SET parcels = parcels + 1;
END;

CREATE TRIGGER shelf_load_delete AFTER DELETE ON parcels
WHEN OLD.shelf IS NOT NULL AND OLD.state IN ('received', 'ready', 'return_pending')
BEGIN
    UPDATE shelf_load SET parcels = parcels - 1 WHERE shelf = OLD.shelf;
END;

-- An upsert of a known parcel sets every column, so the WHEN clause skips
-- the updates that change neither the shelf nor the state.
CREATE TRIGGER shelf_load_update AFTER UPDATE OF shelf, state ON parcels
WHEN OLD.shelf IS NOT NEW.shelf OR OLD.state IS NOT NEW.state
BEGIN
    UPDATE shelf_load SET parcels = parcels - 1
        WHERE shelf = OLD.shelf AND OLD.state IN ('received', 'ready', 'return_pending');
    INSERT INTO shelf_load (shelf, parcels)
        SELECT NEW.shelf, 1
        WHERE NEW.shelf IS NOT NULL AND NEW.state IN ('received', 'ready', 'return_pending')
        ON CONFLICT (shelf) DO UPDATE SET parcels = parcels + 1;
END;
";

/// Version 6: wrong PINs per operator id, which lock sign-in after repeated
/// failures.
const V6: &str = "
CREATE TABLE sign_in_failures (
    -- The id as typed; it need not belong to an operator.
    operator_id TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX sign_in_failures_by_operator ON sign_in_failures (operator_id, at);
";
