//! [`Roles`]: the database and the two roles of `docs/least-privilege.md` (an owner that
//! installs and creates, an application role without DDL rights) under names of one test
//! run's own, for the least-privilege tests of each adapter.

/// This run's database, roles and password, and the doc's scripts rewritten to use them.
#[derive(Clone, Debug)]
pub struct Roles {
    /// The fresh database.
    pub db: String,
    /// The owner role (the doc's `pgmq_owner`).
    pub owner: String,
    /// The application role (the doc's `pgmq_app`).
    pub app: String,
    /// Both roles' password (the doc's `change-me`).
    pub password: String,
}

impl Roles {
    /// Names made from `tag` (e.g. a unique queue name), so parallel runs never meet.
    pub fn new(tag: &str) -> Self {
        Self {
            db: format!("pgmq_{tag}"),
            owner: format!("{tag}_owner"),
            app: format!("{tag}_app"),
            password: format!("{tag}_pw"),
        }
    }

    /// The `n`-th ```` ```sql ```` block of `doc` (0: the roles, 1: the grants) with this
    /// run's names in place of the doc's.
    ///
    /// # Panics
    /// If `doc` does not hold exactly two SQL blocks: the doc and its tests disagree.
    pub fn script(&self, doc: &str, n: usize) -> String {
        let scripts: Vec<&str> = doc
            .split("```sql\n")
            .skip(1)
            .filter_map(|s| s.split("```").next())
            .collect();
        assert_eq!(scripts.len(), 2, "the doc's SQL scripts");
        scripts[n]
            .replace("pgmq_owner", &self.owner)
            .replace("pgmq_app", &self.app)
            .replace("app_db", &self.db)
            .replace("change-me", &self.password)
    }

    /// `CREATE DATABASE …` for this run's database.
    pub fn create_database(&self) -> String {
        format!("CREATE DATABASE {}", self.db)
    }

    /// `DROP DATABASE IF EXISTS … WITH (FORCE)` for this run's database.
    pub fn drop_database(&self) -> String {
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db)
    }

    /// A block that drops both roles and what they own anywhere they exist (run after
    /// [`drop_database`](Self::drop_database), on another database).
    pub fn drop_roles(&self) -> String {
        format!(
            "DO $$ DECLARE r text; BEGIN
               FOREACH r IN ARRAY ARRAY['{}', '{}'] LOOP
                 IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
                   EXECUTE format('DROP OWNED BY %I; DROP ROLE %I', r, r);
                 END IF;
               END LOOP;
             END $$",
            self.app, self.owner
        )
    }
}
