-- Each organisation's IANA time zone: the calendar in which its export date ranges are read.
ALTER TABLE organizations ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
