-- Sequence numbers from a sequence, so writers in several processes no longer queue on the
-- sync_state row; readers read only up to the watermark, below which every writer has ended.
--
-- Advisory lock keys (two-int form, so they never meet the one-bigint migration lock):
--   (1818689537, 0)          the gate: writers hold it shared while they take a number and
--                            register it, the watermark holds it exclusively while it reads
--   (1818689538, seq % 2^31) a number in flight, held by its writer until commit or rollback
--   (1818689539, org hash)   an organisation's areas: shared by pushes, exclusive by changes
CREATE SEQUENCE sync_seq AS bigint MINVALUE 0 START WITH 0;
SELECT setval('sync_seq', GREATEST((SELECT seq FROM sync_state WHERE id = 1), 0), true);

-- Takes the next number and registers it in flight until the calling transaction ends.
CREATE FUNCTION sync_take() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    taken bigint;
BEGIN
    PERFORM pg_advisory_lock_shared(1818689537, 0);
    BEGIN
        taken := nextval('sync_seq');
        PERFORM pg_advisory_xact_lock(1818689538, (taken % 2147483648)::int);
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_advisory_unlock_shared(1818689537, 0);
        RAISE;
    END;
    PERFORM pg_advisory_unlock_shared(1818689537, 0);
    RETURN taken;
END
$$;

-- The highest number at or below which every writer has committed or rolled back. Call it
-- before a transaction's snapshot is taken: the rows it covers are then all visible.
CREATE FUNCTION sync_watermark() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    latest bigint;
    lowest bigint;
BEGIN
    PERFORM pg_advisory_lock(1818689537, 0);
    BEGIN
        SELECT last_value INTO latest FROM sync_seq;
        -- A lock key keeps the number's low 31 bits; every number in flight is at most the
        -- latest and far less than 2^31 below it.
        SELECT min(latest - ((latest - objid::bigint) % 2147483648 + 2147483648) % 2147483648)
          INTO lowest
          FROM pg_locks
         WHERE locktype = 'advisory' AND classid = 1818689538 AND objsubid = 2
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database());
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_advisory_unlock(1818689537, 0);
        RAISE;
    END;
    PERFORM pg_advisory_unlock(1818689537, 0);
    RETURN COALESCE(lowest - 1, latest);
END
$$;
