//! Least privilege, set up by the two scripts of `docs/least-privilege.md` in a fresh database:
//! an owner role that is not a superuser installs and creates queues; an application role
//! runs every queue operation, the worker and the batching producer, and is refused DDL with
//! a typed error.

use std::future::Future;
use std::time::Duration;

use pgmq_conformance::Roles;
use pgmq_core::{
    CreateOptions, DbErrorKind, Error, Queue, QueueAttributes, QueueName, StorageParams,
    TopicPattern, VacuumOutcome,
};
use pgmq_sqlx::SqlxQueue;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};

#[path = "least_privilege/operations.rs"]
mod operations;

use operations::{messages, waiting, worker_and_dead_letters};

const DOC: &str = include_str!("../../docs/least-privilege.md");

/// A database and the doc's two roles, under names of this run's own.
#[derive(Clone)]
struct Fixture {
    admin: PgConnectOptions,
    roles: Roles,
}

impl std::ops::Deref for Fixture {
    type Target = Roles;
    fn deref(&self) -> &Roles {
        &self.roles
    }
}

impl Fixture {
    fn new() -> Self {
        let url = pgmq_conformance::harness::database_url().expect("a Postgres to test against");
        let tag = pgmq_conformance::unique_queue_name("lp").to_string();
        Self {
            admin: url.parse().expect("DATABASE_URL"),
            roles: Roles::new(&tag),
        }
    }

    /// Script `n` of the doc (0: roles, 1: grants), with this run's names.
    fn script(&self, n: usize) -> String {
        self.roles.script(DOC, n)
    }

    /// A pool on the fresh database as `role` (`None`: the harness's superuser).
    fn pool(&self, role: Option<&str>) -> PgPool {
        let options = self.admin.clone().database(&self.db);
        let options = match role {
            Some(role) => options.username(role).password(&self.password),
            None => options,
        };
        PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy_with(options)
    }

    async fn create(&self) {
        let admin = PgPoolOptions::new().connect_lazy_with(self.admin.clone());
        sql(&admin, &self.create_database())
            .await
            .expect("create database");
        sql(&self.pool(None), &self.script(0))
            .await
            .expect("the roles script");
    }

    async fn drop(&self) {
        let admin = PgPoolOptions::new().connect_lazy_with(self.admin.clone());
        let db = self.drop_database();
        sql(&admin, &db).await.expect("drop the database");
        let roles = self.drop_roles();
        sql(&admin, &roles).await.expect("drop the roles");
    }

    /// Runs `body` between [`create`](Self::create) and [`drop`](Self::drop), even when
    /// either fails.
    async fn around<B, F>(self, body: B)
    where
        B: FnOnce(Self) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let fx = self.clone();
        let outcome = tokio::spawn(async move {
            fx.create().await;
            body(fx).await;
        })
        .await;
        self.drop().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Drops `roles` and what they own or were granted here, when they exist.
/// Runs `text` (any number of statements), classifying a failure as the adapters do.
async fn sql(pool: &PgPool, text: &str) -> Result<(), Error> {
    match sqlx::raw_sql(AssertSqlSafe(text.to_owned()))
        .execute(pool)
        .await
    {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) => {
            let code = e.code().map(|c| c.into_owned()).unwrap_or_default();
            Err(Error::from_database(&code, sqlx::Error::Database(e)))
        }
        Err(e) => Err(Error::driver(e)),
    }
}

/// Asserts that `what` was refused for lack of privilege.
fn denied<T: std::fmt::Debug>(what: &str, result: Result<T, Error>) {
    match result {
        Err(Error::Database {
            kind: DbErrorKind::InsufficientPrivilege,
            code,
            ..
        }) => {
            assert_eq!(code, "42501", "{what}");
        }
        other => panic!("{what}: expected permission denied, got {other:?}"),
    }
}

fn name(s: &str) -> QueueName {
    QueueName::new(s).expect("valid name")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_application_role_runs_every_operation_and_is_refused_ddl() {
    Fixture::new().around(run).await;
}

async fn run(fx: Fixture) {
    let owner_pool = fx.pool(Some(&fx.owner));
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&owner_pool)
            .await
            .expect("rolsuper");
    assert!(!superuser, "the owner is not a superuser");
    let owner = SqlxQueue::new(owner_pool.clone());
    let (early, jobs, dlq) = (name("early"), name("jobs"), name("jobs_dlq"));
    owner.install().await.expect("install as the owner");
    owner
        .create(&early, CreateOptions::new())
        .await
        .expect("create before the grants");
    sql(&owner_pool, &fx.script(1))
        .await
        .expect("the grants script, as the owner");
    // Created after the grants: usable through the default privileges alone.
    owner
        .create(&dlq, CreateOptions::new())
        .await
        .expect("create dlq");
    let policy = QueueAttributes::new().dead_letter(dlq.clone(), 2);
    owner
        .create(&jobs, CreateOptions::new().attributes(policy))
        .await
        .expect("create jobs");

    storage_as_the_owner(&owner, &owner_pool, &jobs).await;

    let app_pool = fx.pool(Some(&fx.app));
    let app = SqlxQueue::new(app_pool.clone());
    messages(&app, &early).await;
    waiting(&app, &jobs).await;
    worker_and_dead_letters(&app, &jobs, &dlq).await;
    refusals(&app, &app_pool, &jobs).await;
    let listed: Vec<String> = app
        .list_queues()
        .await
        .expect("list")
        .into_iter()
        .map(|q| q.queue_name)
        .collect();
    assert_eq!(
        listed,
        ["early", "jobs", "jobs_dlq"],
        "nothing was dropped or created"
    );
    assert!(owner.drop_queue(&early).await.expect("the owner drops"));
}

/// The owner (not a superuser, not the database's owner) tunes and vacuums its queue, and
/// `storage` reads back exactly what `pg_class.reloptions` holds.
async fn storage_as_the_owner(owner: &SqlxQueue, pool: &PgPool, q: &QueueName) {
    let params = StorageParams::churn().queue_table("fillfactor", 90);
    owner.set_storage(q, &params).await.expect("set_storage");
    let storage = owner.storage(q).await.expect("storage");
    let reloptions = |table: &'static str| async move {
        let options: Option<Vec<String>> =
            sqlx::query_scalar("SELECT reloptions FROM pg_class WHERE oid = $1::regclass")
                .bind(table)
                .fetch_one(pool)
                .await
                .expect("reloptions");
        options
            .unwrap_or_default()
            .into_iter()
            .map(|o| {
                let (name, value) = o.split_once('=').expect("name=value");
                (name.to_owned(), value.to_owned())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(storage.queue_table, reloptions("pgmq.q_jobs").await);
    assert_eq!(storage.archive, reloptions("pgmq.a_jobs").await);
    assert!(storage
        .queue_table
        .contains(&("fillfactor".to_owned(), "90".to_owned())));
    assert!(storage
        .queue_table
        .contains(&("autovacuum_vacuum_threshold".to_owned(), "1000".to_owned())));
    assert_eq!(
        owner.vacuum(q).await.expect("vacuum"),
        VacuumOutcome::Vacuumed
    );
}

/// Everything that creates, alters or drops, and the tables kept read only.
async fn refusals(app: &SqlxQueue, pool: &PgPool, q: &QueueName) {
    denied("install", app.install().await);
    denied(
        "create a queue",
        app.create(&name("evil"), CreateOptions::new()).await,
    );
    denied(
        "create an existing queue",
        app.create(q, CreateOptions::new()).await,
    );
    denied("drop a queue", app.drop_queue(q).await);
    denied(
        "drop a missing queue",
        app.drop_queue(&name("missing")).await,
    );
    denied(
        "set_attributes",
        app.set_attributes(q, QueueAttributes::new()).await,
    );
    denied(
        "enable_notify_insert",
        app.enable_notify_insert(q, Duration::ZERO).await,
    );
    denied("disable_notify_insert", app.disable_notify_insert(q).await);
    denied(
        "set_storage",
        app.set_storage(q, &StorageParams::churn()).await,
    );
    // Not the table's owner: vacuum answers so without running VACUUM.
    assert_eq!(
        app.vacuum(q).await.expect("vacuum"),
        VacuumOutcome::NotPermitted
    );
    let pattern = TopicPattern::new("jobs.#").expect("a valid pattern");
    denied("bind_topic", app.bind_topic(&pattern, q).await);
    denied("unbind_topic", app.unbind_topic(&pattern, q).await);
    for statement in [
        "CREATE TABLE pgmq.evil (id int)",
        "CREATE TABLE pgmq_rs.evil (id int)",
        "CREATE TABLE public.evil (id int)",
        "CREATE TEMP TABLE evil (id int)",
        "CREATE SCHEMA evil",
        "CREATE FUNCTION pgmq_rs.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "ALTER TABLE pgmq.q_jobs ADD COLUMN evil int",
        "DROP TABLE pgmq.q_jobs",
        "TRUNCATE pgmq.q_jobs",
        "DROP TRIGGER trigger_notify_queue_insert_listeners ON pgmq.q_jobs",
        "INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged) VALUES ('evil', false, false)",
        "DELETE FROM pgmq.meta",
        "UPDATE pgmq.notify_insert_throttle SET last_notified_at = 'infinity'",
        "UPDATE pgmq_rs.queue_attributes SET max_receive_count = 100",
        "SELECT setval('pgmq.q_jobs_msg_id_seq', 1)",
    ] {
        denied(statement, sql(pool, statement).await);
    }
}
