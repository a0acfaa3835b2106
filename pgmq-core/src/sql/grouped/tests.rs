use super::super::tests::name;
use super::*;

fn statement(order: GroupOrder) -> Statement {
    read_grouped(&name("jobs"), order, Some(30_000), 10, None)
}

#[test]
fn a_heads_read_locks_one_head_per_group_and_binds_every_value() {
    let st = statement(GroupOrder::Heads);
    assert_eq!(
        st.sql,
        r#"WITH claimed AS (WITH RECURSIVE now AS (SELECT clock_timestamp() AS t),
walked AS MATERIALIZED (
  SELECT msg_id, COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') AS grp FROM pgmq."q_jobs"
  WHERE vt <= (SELECT t FROM now) ORDER BY vt LIMIT $3::bigint
),
near AS (
  SELECT w.msg_id FROM walked w
  WHERE w.msg_id = (SELECT e.msg_id FROM pgmq."q_jobs" e WHERE COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') >= w.grp
                    ORDER BY COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group'), e.msg_id LIMIT 1)
),
near_heads AS (
  SELECT v.msg_id, v.read_ct, v.vt, COALESCE(v.headers->>'x-pgmq-group', '_default_fifo_group') AS grp FROM pgmq."q_jobs" v
  WHERE v.msg_id IN (SELECT msg_id FROM near) AND v.vt <= (SELECT t FROM now) AND ($4::jsonb IS NULL OR v.message @> $4::jsonb)
  ORDER BY v.vt LIMIT $2::bigint
  FOR UPDATE SKIP LOCKED
),
start AS (
  SELECT COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') AS grp FROM pgmq."q_jobs" e
  WHERE e.msg_id >= (SELECT min(msg_id) + floor(random() * (max(msg_id) - min(msg_id) + 1))::bigint
                     FROM pgmq."q_jobs")
  ORDER BY e.msg_id LIMIT 1
),
upward AS (
  (SELECT COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') AS grp, e.msg_id AS head FROM pgmq."q_jobs" e WHERE COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') >= (SELECT grp FROM start)
   ORDER BY COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group'), e.msg_id LIMIT 1)
  UNION ALL
  SELECT n.grp, n.head FROM upward g CROSS JOIN LATERAL (
    SELECT COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') AS grp, e.msg_id AS head FROM pgmq."q_jobs" e WHERE COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') > g.grp
    ORDER BY COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group'), e.msg_id LIMIT 1) n
),
wrapped AS (
  (SELECT COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') AS grp, e.msg_id AS head FROM pgmq."q_jobs" e WHERE COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') < (SELECT grp FROM start)
   ORDER BY COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group'), e.msg_id LIMIT 1)
  UNION ALL
  SELECT n.grp, n.head FROM wrapped g CROSS JOIN LATERAL (
    SELECT COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') AS grp, e.msg_id AS head FROM pgmq."q_jobs" e WHERE COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') > g.grp AND COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group') < (SELECT grp FROM start)
    ORDER BY COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group'), e.msg_id LIMIT 1) n
),
far_heads AS (
  SELECT v.* FROM (SELECT * FROM upward UNION ALL SELECT * FROM wrapped) f
  CROSS JOIN LATERAL (
    SELECT v.msg_id, v.read_ct, v.vt, COALESCE(v.headers->>'x-pgmq-group', '_default_fifo_group') AS grp FROM pgmq."q_jobs" v
    WHERE v.msg_id = f.head AND v.vt <= (SELECT t FROM now) AND ($4::jsonb IS NULL OR v.message @> $4::jsonb)
    FOR UPDATE SKIP LOCKED) v
  WHERE (SELECT count(*) FROM walked) = $3::bigint
    AND NOT EXISTS (SELECT 1 FROM walked w WHERE w.msg_id = f.head)
  LIMIT $2::bigint
),
heads AS MATERIALIZED (
  SELECT * FROM near_heads UNION ALL SELECT * FROM far_heads LIMIT $2::bigint
)
SELECT msg_id, read_ct, (SELECT t FROM now) AS at FROM heads)
UPDATE pgmq."q_jobs" m
SET vt = claimed.at
      + COALESCE($1::bigint, (SELECT default_vt_ms FROM pgmq_rs.queue_attributes WHERE queue_name = 'jobs'), 30000) * interval '1 millisecond',
    read_ct = m.read_ct + 1,
    last_read_at = claimed.at
FROM claimed
WHERE m.msg_id = claimed.msg_id
  AND claimed.read_ct < COALESCE((SELECT max_receive_count FROM pgmq_rs.queue_attributes WHERE queue_name = 'jobs'), 2147483647)
RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers"#
    );
    assert_eq!(
        st.params,
        vec![
            Param::NullableInt8(Some(30_000)),
            Param::Int8(10),
            Param::Int8(84),
            Param::Jsonb(None),
        ]
    );
    assert_eq!(st.columns, MESSAGE);
    assert!(st.persistent);
}

#[test]
fn an_oldest_read_fills_the_batch_group_by_group_as_the_heads_come() {
    let sql = statement(GroupOrder::Oldest).sql;
    assert!(sql.contains(
        "picked AS MATERIALIZED (
  SELECT h.msg_id AS head, h.read_ct AS head_read_ct, r.msg_id, r.pos
  FROM heads h CROSS JOIN LATERAL (SELECT e.msg_id, row_number() OVER w AS pos,"
    ));
    // No ordering of its own: the heads' order, each group's run in turn, up to the batch.
    assert!(
        sql.contains("  WHERE r.open\n  LIMIT $2::bigint\n)"),
        "{sql}"
    );
    assert!(sql.contains("ORDER BY COALESCE(e.headers->>'x-pgmq-group', '_default_fifo_group'), e.msg_id LIMIT $2::bigint) e"));
}

#[test]
fn a_round_robin_read_takes_each_groups_nth_message_before_any_groups_next() {
    let sql = statement(GroupOrder::RoundRobin).sql;
    assert!(sql
        .contains("row_number() OVER (ORDER BY h.vt, h.msg_id) AS g, count(*) OVER () AS groups"));
    assert!(sql.contains("  WHERE s.open\n  ORDER BY s.pos, r.g\n  LIMIT $2::bigint\n)"));
    // After every group's head, at most what is left of the batch.
    assert!(sql.contains("e.msg_id LIMIT $2::bigint - r.groups + 1) e"));
}

#[test]
fn runs_are_locked_after_their_heads_and_cut_at_the_first_message_not_locked() {
    for order in [GroupOrder::Oldest, GroupOrder::RoundRobin] {
        let sql = statement(order).sql;
        assert!(sql.contains(
            "WHERE m.msg_id IN (SELECT msg_id FROM picked WHERE pos > 1) AND m.vt <= (SELECT t FROM now)
  FOR UPDATE SKIP LOCKED"
        ));
        assert!(sql.contains(
            "bool_and(p.pos = 1 OR l.msg_id IS NOT NULL)
           OVER (PARTITION BY p.head ORDER BY p.pos) AS held"
        ));
        // A run goes on only while its messages are visible (and match), from one instant.
        assert!(sql.contains("bool_and(e.vt <= (SELECT t FROM now) AND ($4::jsonb IS NULL OR e.message @> $4::jsonb)) OVER w AS open"));
    }
}

#[test]
fn every_read_hides_its_messages_from_one_instant_and_leaves_dead_letters_out() {
    for order in [
        GroupOrder::Oldest,
        GroupOrder::RoundRobin,
        GroupOrder::Heads,
    ] {
        let sql = statement(order).sql;
        assert!(sql.contains("SELECT msg_id, read_ct, (SELECT t FROM now) AS at FROM"));
        assert!(sql.contains("SET vt = claimed.at\n      + COALESCE($1::bigint,"));
        assert!(sql.contains("last_read_at = claimed.at"));
        assert!(sql.contains("AND claimed.read_ct < COALESCE((SELECT max_receive_count"));
    }
}

#[test]
fn groups_are_looked_up_by_key_ranges_never_by_key_equality() {
    // With an equality the planner may answer "the oldest of this group" by walking the
    // primary key and filtering: through the whole backlog of a busy group.
    for order in [
        GroupOrder::Oldest,
        GroupOrder::RoundRobin,
        GroupOrder::Heads,
    ] {
        let sql = statement(order).sql;
        assert!(!sql.contains("'_default_fifo_group') = "), "{sql}");
    }
}

#[test]
fn the_window_is_twice_the_batch_and_64_more() {
    assert_eq!(walk(1), 66);
    assert_eq!(walk(1000), 2064);
    let st = read_grouped(
        &name("jobs"),
        GroupOrder::Heads,
        None,
        1000,
        Some(serde_json::json!({"k": 1})),
    );
    assert_eq!(st.params[2], Param::Int8(2064));
    assert_eq!(
        st.params[3],
        Param::Jsonb(Some(serde_json::json!({"k": 1})))
    );
}
