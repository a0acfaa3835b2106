//! Least privilege on tokio-postgres, set up by the two scripts of `docs/least-privilege.md`
//! in a fresh database: the application role sends, waits, acknowledges by receipt, reads
//! metrics, dead-letters, redrives and batches; it is refused DDL with a typed error. (The
//! sqlx twin runs every operation; this one proves the other driver and its listener.)

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pgmq_conformance::Roles;
use pgmq_core::{
    BatchingProducer, CreateOptions, DbErrorKind, Error, Fence, ProducerOptions, Queue,
    QueueAttributes, QueueExt, QueueName, ReadOptions, RedriveOptions, SendOptions, StorageParams,
    VacuumOutcome, VisibleAt,
};
use pgmq_tokio_postgres::deadpool_postgres::{Manager, Pool, Runtime};
use pgmq_tokio_postgres::tokio_postgres::{Client, Config, NoTls};
use pgmq_tokio_postgres::TokioPostgresQueue;
use serde_json::json;

const DOC: &str = include_str!("../../docs/least-privilege.md");

/// A database and the doc's two roles, under names of this run's own.
#[derive(Clone)]
struct Fixture {
    admin: Config,
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
        let tag = pgmq_conformance::unique_queue_name("lpt").to_string();
        Self {
            admin: url.parse().expect("DATABASE_URL"),
            roles: Roles::new(&tag),
        }
    }

    /// Script `n` of the doc (0: roles, 1: grants), with this run's names.
    fn script(&self, n: usize) -> String {
        self.roles.script(DOC, n)
    }

    /// The fresh database as `role` (`None`: the harness's superuser).
    fn config(&self, role: Option<&str>) -> Config {
        let mut config = self.admin.clone();
        config.dbname(&self.db);
        if let Some(role) = role {
            config.user(role).password(&self.password);
        }
        config
    }

    /// A queue on a pool as `role`, listening as that role too.
    fn queue(&self, role: &str) -> TokioPostgresQueue {
        let config = self.config(Some(role));
        let pool = Pool::builder(Manager::new(config.clone(), NoTls))
            .runtime(Runtime::Tokio1)
            .build()
            .expect("pool");
        TokioPostgresQueue::new(pool).with_listener(config)
    }

    /// Runs `body` in a fresh database with the roles, dropping them after, even when
    /// either fails.
    async fn around<B, F>(self, body: B)
    where
        B: FnOnce(Self) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let fx = self.clone();
        let outcome = tokio::spawn(async move {
            let admin = client(&fx.admin).await;
            let db = fx.create_database();
            sql(&admin, &db).await.expect("create database");
            let roles = fx.script(0);
            sql(&client(&fx.config(None)).await, &roles)
                .await
                .expect("roles script");
            body(fx).await;
        })
        .await;
        let admin = client(&self.admin).await;
        let db = self.drop_database();
        sql(&admin, &db).await.expect("drop the database");
        let roles = self.drop_roles();
        sql(&admin, &roles).await.expect("drop the roles");
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

async fn client(config: &Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Drops `roles` and what they own or were granted here, when they exist.
/// Runs `text` (any number of statements), classifying a failure as the adapter does.
async fn sql(client: &Client, text: &str) -> Result<(), Error> {
    client
        .batch_execute(text)
        .await
        .map_err(|e| match e.code().map(|c| c.code().to_owned()) {
            Some(code) => Error::from_database(&code, e),
            None => Error::driver(e),
        })
}

/// Asserts that `what` was refused for lack of privilege.
fn denied<T: std::fmt::Debug>(what: &str, result: Result<T, Error>) {
    assert!(
        matches!(
            &result,
            Err(Error::Database { kind: DbErrorKind::InsufficientPrivilege, code, .. }) if code == "42501"
        ),
        "{what}: expected permission denied, got {result:?}"
    );
}

fn name(s: &str) -> QueueName {
    QueueName::new(s).expect("valid name")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_role_works_and_is_refused_ddl() {
    Fixture::new().around(run).await;
}

async fn run(fx: Fixture) {
    let owner_client = client(&fx.config(Some(&fx.owner))).await;
    let row = owner_client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .expect("rolsuper");
    assert!(!row.get::<_, bool>(0), "the owner is not a superuser");
    let owner = fx.queue(&fx.owner);
    let (jobs, dlq) = (name("jobs"), name("jobs_dlq"));
    owner.install().await.expect("install as the owner");
    sql(&owner_client, &fx.script(1))
        .await
        .expect("grants script");
    owner
        .create(&dlq, CreateOptions::new())
        .await
        .expect("create dlq");
    let policy = QueueAttributes::new().dead_letter(dlq.clone(), 1);
    let options = CreateOptions::new().attributes(policy);
    owner.create(&jobs, options).await.expect("create jobs");

    let app = fx.queue(&fx.app);
    let sub = app.subscribe(&jobs).await.expect("subscribe");
    assert!(sub.is_listening(), "the app role listens");
    let (sender, to) = (app.clone(), jobs.clone());
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sender
            .send(&to, &json!("late"), SendOptions::new())
            .await
            .expect("late send")
    });
    let waited = ReadOptions::new().wait(Duration::from_secs(10));
    let got = app.read_json(&jobs, waited).await.expect("read with wait");
    assert_eq!(got[0].msg_id, late.await.expect("sent"));
    let receipt = got[0].receipt();
    let extended = app
        .set_vt_receipt(&jobs, receipt, VisibleAt::secs(60))
        .await;
    assert!(extended.expect("set_vt_receipts").is_some());
    let fence = app
        .delete_receipt(&jobs, receipt)
        .await
        .expect("delete_receipts");
    assert_eq!(fence, Fence::Acted);

    let queue: Arc<dyn Queue> = Arc::new(app.clone());
    let producer =
        BatchingProducer::new(queue, jobs.clone(), ProducerOptions::new()).expect("producer");
    let sends: Vec<_> = (0..5).map(|i| producer.send(&json!(i))).collect();
    for send in sends {
        send.await.expect("batched send");
    }
    producer.close().await;
    // Each is read once (its one allowed receive) and released; the next read moves all.
    let first = app
        .read_json(&jobs, ReadOptions::new().qty(10))
        .await
        .expect("read");
    assert_eq!(first.len(), 5);
    let ids: Vec<i64> = first.iter().map(|m| m.msg_id).collect();
    assert_eq!(
        app.set_vt_batch(&jobs, &ids, VisibleAt::now())
            .await
            .expect("set_vt")
            .len(),
        5
    );
    assert!(app
        .read_json(&jobs, ReadOptions::new())
        .await
        .expect("read")
        .is_empty());
    let m = app.metrics(&jobs).await.expect("metrics");
    assert_eq!((m.queue_length, m.dead_letter_queue_length), (0, Some(5)));
    assert_eq!(
        app.redrive(&dlq, RedriveOptions::new())
            .await
            .expect("redrive"),
        5
    );
    assert_eq!(app.purge(&jobs).await.expect("purge"), 5);
    assert_eq!(app.metrics_all().await.expect("metrics_all").len(), 2);

    denied("install", app.install().await);
    denied(
        "create",
        app.create(&name("evil"), CreateOptions::new()).await,
    );
    denied("drop_queue", app.drop_queue(&jobs).await);
    denied(
        "set_attributes",
        app.set_attributes(&jobs, QueueAttributes::new()).await,
    );
    denied(
        "set_storage",
        app.set_storage(&jobs, &StorageParams::churn()).await,
    );
    // Not the table's owner: vacuum answers so without running VACUUM; the owner may.
    assert_eq!(
        app.vacuum(&jobs).await.expect("vacuum"),
        VacuumOutcome::NotPermitted
    );
    assert_eq!(
        owner.vacuum(&jobs).await.expect("vacuum"),
        VacuumOutcome::Vacuumed
    );
    let app_client = client(&fx.config(Some(&fx.app))).await;
    for statement in [
        "CREATE TABLE pgmq.evil (id int)",
        "ALTER TABLE pgmq.q_jobs ADD COLUMN evil int",
        "TRUNCATE pgmq.q_jobs",
        "DELETE FROM pgmq.meta",
    ] {
        denied(statement, sql(&app_client, statement).await);
    }
    assert!(owner.drop_queue(&jobs).await.expect("the owner drops"));
}
