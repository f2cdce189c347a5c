/**
 * The SQLite schema, as an ordered list of migrations. `PRAGMA user_version`
 * holds the number of the last migration applied; `openDatabase` runs the
 * missing ones in one transaction. Never edit a released migration: append a
 * new one, so every older file can be brought forward step by step.
 *
 * Units follow drivers/types.ts (SI electrical, µm, mbar); times are the
 * session clock's ms (`t`, `*_t`) plus wall-clock epoch ms (`epoch`, `*_epoch`).
 * Float32 samples are little-endian BLOBs (the byte order of every platform
 * Node runs on), read back as Float32Array without conversion.
 */
import type Database from 'better-sqlite3';

/** Identifies an autopatch store among SQLite files (`PRAGMA application_id`; ASCII "aptc"). */
export const APPLICATION_ID = 0x61707463;

export interface Migration {
  /** user_version after this migration */
  version: number;
  description: string;
  up: (db: Database.Database) => void;
}

const V1 = `
CREATE TABLE rigs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,          -- the rig description the session started with
  virtual INTEGER NOT NULL,           -- 1 = simulated rig
  first_epoch REAL NOT NULL
);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  rig_id INTEGER REFERENCES rigs(id),
  preset TEXT NOT NULL,
  operator TEXT NOT NULL,
  seed INTEGER,                       -- simulated rigs: the seed that reproduces the run
  hardware TEXT,                      -- JSON list per pipette of its devices (PipetteHardwareInfo), when known
  rig TEXT NOT NULL,
  virtual INTEGER NOT NULL,
  pipettes TEXT NOT NULL,             -- JSON array of pipette ids, in rig order
  start_t REAL NOT NULL,
  start_epoch REAL NOT NULL,
  end_t REAL,
  end_epoch REAL,
  end_reason TEXT,                    -- completed|aborted|estop|duration|error|interrupted
  end_detail TEXT,
  status TEXT NOT NULL CHECK (status IN ('running','completed','interrupted','aborted')),
  last_t REAL NOT NULL,               -- time of the last committed row of the session
  last_epoch REAL NOT NULL,
  writer_host TEXT,                   -- who was writing, to tell a live writer from a crashed one
  writer_boot TEXT,
  writer_pid INTEGER
);
CREATE INDEX sessions_by_start ON sessions(start_epoch);
CREATE INDEX sessions_by_status ON sessions(status);

CREATE TABLE pipettes (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  pipette_id TEXT NOT NULL,
  idx INTEGER NOT NULL,               -- position in the session's pipette list
  PRIMARY KEY (session_id, pipette_id)
) WITHOUT ROWID;

CREATE TABLE attempts (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  attempt_id TEXT NOT NULL,
  pipette_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open','ended')),
  target_x REAL, target_y REAL, target_z REAL,
  target_cell_id INTEGER,
  start_t REAL NOT NULL,
  start_epoch REAL NOT NULL,
  end_t REAL,
  end_epoch REAL,
  stage_reached TEXT,
  outcome TEXT,
  failure_reason TEXT,
  failed_in TEXT,
  r0 REAL,
  clean_count INTEGER,
  peak_seal REAL,
  time_to_seal REAL,
  break_in_attempts INTEGER,
  spontaneous_break_in INTEGER,
  ra REAL, rm REAL, cm REAL, ihold REAL, vrest REAL,
  recording_duration REAL,
  sweeps_recorded INTEGER,
  state_durations TEXT,               -- JSON {state: seconds}
  has_features INTEGER NOT NULL DEFAULT 0,
  UNIQUE (session_id, attempt_id)
);
CREATE INDEX attempts_by_pipette ON attempts(session_id, pipette_id, start_t);

CREATE TABLE cell_features (
  attempt INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (attempt, name)
) WITHOUT ROWID;

CREATE TABLE state_transitions (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  pipette_id TEXT NOT NULL,
  attempt_id TEXT,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  t REAL NOT NULL,
  epoch REAL NOT NULL
);
CREATE INDEX transitions_by_pipette ON state_transitions(session_id, pipette_id, t);
CREATE INDEX transitions_by_attempt ON state_transitions(session_id, attempt_id);

CREATE TABLE testpulse_readings (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  pipette_id TEXT NOT NULL,
  attempt_id TEXT,
  t REAL NOT NULL,
  epoch REAL NOT NULL,
  r REAL, ra REAL, cm REAL, rm REAL, ihold REAL,
  fit_quality REAL,
  mode TEXT NOT NULL,
  summarised INTEGER NOT NULL DEFAULT 0 -- readings not stored since the previous row of this pipette
);
CREATE INDEX readings_by_pipette ON testpulse_readings(session_id, pipette_id, t);

CREATE TABLE sweeps (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  pipette_id TEXT NOT NULL,
  attempt_id TEXT,
  channel INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('testpulse','stimulus')),
  mode TEXT NOT NULL,
  seq INTEGER NOT NULL,
  start_time REAL NOT NULL,           -- host clock ms of the first sample
  t REAL NOT NULL,
  epoch REAL NOT NULL,
  sample_rate_hz REAL NOT NULL,
  n_samples INTEGER NOT NULL,
  response_unit TEXT NOT NULL,
  holding REAL NOT NULL,
  step_amplitude REAL, step_onset INTEGER, step_length INTEGER,
  stimulus_name TEXT,
  stimulus_mode TEXT,
  stimulus_rate_hz REAL,
  stimulus_onset INTEGER,
  stimulus_length INTEGER,
  stimulus_amplitude REAL,
  response BLOB NOT NULL,             -- float32 LE
  stimulus BLOB,                      -- float32 LE, when a stimulus was played
  qc TEXT                             -- JSON
);
CREATE INDEX sweeps_by_attempt ON sweeps(session_id, pipette_id, attempt_id, seq);
CREATE INDEX sweeps_by_kind ON sweeps(session_id, kind);

CREATE TABLE faults (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  pipette_id TEXT,
  device TEXT NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  t REAL NOT NULL,
  epoch REAL NOT NULL
);
CREATE INDEX faults_by_session ON faults(session_id, t);

CREATE TABLE logs (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  level TEXT NOT NULL,
  pipette_id TEXT,
  message TEXT NOT NULL,
  t REAL NOT NULL,
  epoch REAL NOT NULL
);
CREATE INDEX logs_by_session ON logs(session_id, t);

-- pause / resume / estop, with who asked
CREATE TABLE session_events (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  by TEXT NOT NULL,
  t REAL NOT NULL,
  epoch REAL NOT NULL
);
CREATE INDEX session_events_by_session ON session_events(session_id, t);

-- pressure and holding changes (low rate: every one is kept)
CREATE TABLE pipette_settings (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  pipette_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('pressure','holding')),
  value REAL NOT NULL,                -- mbar, or V (VC) / A (IC)
  detail TEXT NOT NULL,               -- pressure source, or clamp mode
  t REAL NOT NULL,
  epoch REAL NOT NULL
);
CREATE INDEX settings_by_pipette ON pipette_settings(session_id, pipette_id, t);

-- positions, decimated like test-pulse readings (see decimation.ts)
CREATE TABLE positions (
  id INTEGER PRIMARY KEY,
  session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
  pipette_id TEXT NOT NULL,
  t REAL NOT NULL,
  epoch REAL NOT NULL,
  world_x REAL NOT NULL, world_y REAL NOT NULL, world_z REAL NOT NULL,
  manip_x REAL NOT NULL, manip_y REAL NOT NULL, manip_z REAL NOT NULL,
  summarised INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX positions_by_pipette ON positions(session_id, pipette_id, t);

-- counters of the writer: back-pressure decimation, summarised rows, commits
CREATE TABLE session_stats (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (session_id, name)
) WITHOUT ROWID;
`;

const V2 = `
-- random per writer; its lock file (writer-identity.ts) tells a live writer from a dead one
ALTER TABLE sessions ADD COLUMN writer_token TEXT;
-- the preset's settings as the session ran with them (JSON), when the event carried them
ALTER TABLE sessions ADD COLUMN preset_settings TEXT;

-- events the store could not file, kept whole with the reason (ingest.ts: rejected alone, the batch goes on)
CREATE TABLE rejected_events (
  id INTEGER PRIMARY KEY,
  session_id TEXT,                    -- the session it arrived in; no foreign key, that row may be what failed
  type TEXT NOT NULL,
  t REAL NOT NULL,
  epoch REAL NOT NULL,
  error TEXT NOT NULL,
  event TEXT NOT NULL                 -- the RigEvent as JSON; float32 arrays as {"float32": base64 of LE bytes}
);
CREATE INDEX rejected_by_session ON rejected_events(session_id, t);
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema',
    up: (db) => {
      db.exec(V1);
    },
  },
  {
    version: 2,
    description: 'writer tokens, rejected events, preset settings',
    up: (db) => {
      db.exec(V2);
    },
  },
];

/** The version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
