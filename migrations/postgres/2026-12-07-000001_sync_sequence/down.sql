UPDATE sync_state SET seq = GREATEST(seq, (SELECT last_value FROM sync_seq)) WHERE id = 1;
DROP FUNCTION sync_watermark();
DROP FUNCTION sync_take();
DROP SEQUENCE sync_seq;
