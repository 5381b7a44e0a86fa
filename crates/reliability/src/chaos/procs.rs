//! The processes of a chaos run: a PostgreSQL cluster and a Redis server
//! of its own (never the shared ones: other people's tests run there), and
//! the service's three binaries, each restartable.

use super::{ChaosOptions, STRIPE_KEY, WEBHOOK_SECRET};
use crate::client::ApiClient;
use crate::emulator::EmulatorControl;
use anyhow::Context;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A free TCP port on 127.0.0.1 (free when asked; good enough for a run).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
        })
}

/// PostgreSQL refuses to run as root: run its tools as `postgres` then.
fn pg_command(tool: &str) -> Command {
    let path = format!("{PG_BIN}/{tool}");
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(path)
    }
}

/// Runs a short command to completion off the async threads.
async fn output(mut command: Command) -> std::io::Result<std::process::Output> {
    command.stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(std::io::Error::other)?
}

async fn succeed(command: Command, what: &str) -> anyhow::Result<()> {
    let output = output(command)
        .await
        .with_context(|| format!("cannot run {what}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The run's own PostgreSQL cluster and Redis server.
pub struct Cluster {
    dir: PathBuf,
    pgdata: PathBuf,
    pub pg_port: u16,
    pub redis_port: u16,
    redis: tokio::sync::Mutex<Option<Child>>,
}

impl Cluster {
    pub async fn start(work_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(work_dir)?;
        let dir = work_dir.canonicalize()?;
        let pgdata = dir.join("pgdata");
        if is_root() {
            succeed(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(&dir);
                    c
                },
                "chown of the work directory",
            )
            .await?;
        }
        let mut initdb = pg_command("initdb");
        initdb
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&pgdata);
        succeed(initdb, "initdb").await?;
        let cluster = Self {
            dir,
            pgdata,
            pg_port: free_port()?,
            redis_port: free_port()?,
            redis: tokio::sync::Mutex::new(None),
        };
        cluster.start_postgres().await?;
        cluster.start_redis().await?;
        Ok(cluster)
    }

    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/payments", self.pg_port)
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.pg_port)
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }

    pub async fn start_postgres(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
            self.pg_port,
            self.dir.display()
        );
        let mut start = pg_command("pg_ctl");
        start
            .args(["-w", "-t", "30", "-o", &options, "-l"])
            .arg(self.dir.join("postgres.log"))
            .arg("-D")
            .arg(&self.pgdata)
            .arg("start");
        succeed(start, "pg_ctl start").await?;
        let mut create = pg_command("psql");
        create
            .args(["-h", "127.0.0.1", "-p", &self.pg_port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-tAc"])
            .arg("SELECT 1 FROM pg_database WHERE datname = 'payments'");
        let exists = output(create).await?;
        if String::from_utf8_lossy(&exists.stdout).trim() != "1" {
            let mut createdb = pg_command("createdb");
            createdb
                .args(["-h", "127.0.0.1", "-p", &self.pg_port.to_string()])
                .args(["-U", "postgres", "payments"]);
            succeed(createdb, "createdb payments").await?;
        }
        Ok(())
    }

    pub async fn stop_postgres(&self) -> anyhow::Result<()> {
        let mut stop = pg_command("pg_ctl");
        stop.args(["-w", "-m", "fast", "-D"])
            .arg(&self.pgdata)
            .arg("stop");
        succeed(stop, "pg_ctl stop").await
    }

    /// Ends every connection of ours to the `payments` database.
    pub async fn terminate_backends(&self) -> anyhow::Result<usize> {
        let mut psql = pg_command("psql");
        psql.args(["-h", "127.0.0.1", "-p", &self.pg_port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-tAc"])
            .arg(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = 'payments' AND pid <> pg_backend_pid()",
            );
        let done = output(psql).await?;
        Ok(String::from_utf8_lossy(&done.stdout)
            .trim()
            .parse()
            .unwrap_or(0))
    }

    pub async fn start_redis(&self) -> anyhow::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.redis_port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server (is it installed?)")?;
        *self.redis.lock().await = Some(child);
        wait_port(self.redis_port, Duration::from_secs(10)).await
    }

    /// Kills Redis (SIGKILL: a crash) and starts it again on the same
    /// port after `down`. Without persistence everything it held is lost.
    pub async fn restart_redis(&self, down: Duration) -> anyhow::Result<()> {
        if let Some(mut child) = self.redis.lock().await.take() {
            kill(&mut child);
        }
        tokio::time::sleep(down).await;
        self.start_redis().await
    }

    pub async fn stop(&self) {
        if let Some(mut child) = self.redis.lock().await.take() {
            kill(&mut child);
        }
        let _ = self.stop_postgres().await;
    }
}

/// SIGKILL and reap.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

async fn wait_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nothing listens on port {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The service's binaries, started with the cluster's addresses. Dropping
/// it kills whatever still runs.
pub struct Services {
    api_port: u16,
    emulator_port: u16,
    emulator_base: String,
    logs: PathBuf,
    api: Option<Child>,
    worker: Option<Child>,
    emulator: Option<Child>,
    /// Worker processes started, restarts included.
    pub worker_starts: u32,
}

impl Services {
    pub async fn start(options: &ChaosOptions, cluster: &Cluster) -> anyhow::Result<Self> {
        let emulator_port = free_port()?;
        let mut services = Self {
            api_port: free_port()?,
            emulator_port,
            emulator_base: format!("http://127.0.0.1:{emulator_port}"),
            logs: options.work_dir.clone(),
            api: None,
            worker: None,
            emulator: None,
            worker_starts: 0,
        };
        services.ensure_running(options, cluster).await?;
        Ok(services)
    }

    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    pub fn emulator_base(&self) -> &str {
        &self.emulator_base
    }

    fn log(&self, name: &str) -> anyhow::Result<Stdio> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{name}.log")))?;
        Ok(Stdio::from(file))
    }

    fn common_env(cluster: &Cluster, emulator: &str) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", cluster.database_url()),
            ("REDIS_URL", cluster.redis_url()),
            ("QUEUE_PREFIX", "chaos:".into()),
            ("STRIPE_API_BASE", emulator.to_owned()),
            ("STRIPE_SECRET_KEY", STRIPE_KEY.into()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
            ("APP_ENV", "production".into()),
            ("RUST_LOG", "info".into()),
        ]
    }

    fn spawn(
        &self,
        bin: &Path,
        name: &str,
        env: &[(&str, String)],
        args: &[String],
    ) -> anyhow::Result<Child> {
        let mut command = Command::new(bin);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(self.log(name)?)
            .stderr(self.log(name)?);
        for (k, v) in env {
            command.env(k, v);
        }
        command
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))
    }

    /// Starts whichever of the three is not running.
    pub async fn ensure_running(
        &mut self,
        options: &ChaosOptions,
        cluster: &Cluster,
    ) -> anyhow::Result<()> {
        let emulator = self.emulator_base.clone();
        if !alive(&mut self.emulator) {
            let args = vec![
                "--bind".into(),
                format!("127.0.0.1:{}", self.emulator_port),
                "--webhook-url".into(),
                format!("{}/api/payments/webhook/", self.api_base()),
                "--webhook-secret".into(),
                WEBHOOK_SECRET.into(),
            ];
            let bin = options.bin_dir.join("stripe-emulator");
            self.emulator =
                Some(self.spawn(&bin, "emulator", &[("RUST_LOG", "warn".into())], &args)?);
            wait_port(self.emulator_port, Duration::from_secs(10)).await?;
        }
        if !alive(&mut self.api) {
            let mut env = Self::common_env(cluster, &emulator);
            env.push(("API_BIND", format!("127.0.0.1:{}", self.api_port)));
            env.push(("DATABASE_POOL_SIZE", "16".into()));
            let bin = options.bin_dir.join("payments-api");
            self.api = Some(self.spawn(&bin, "api", &env, &[])?);
            wait_port(self.api_port, Duration::from_secs(20)).await?;
        }
        if !alive(&mut self.worker) {
            self.start_worker(options, cluster)?;
        }
        Ok(())
    }

    fn start_worker(&mut self, options: &ChaosOptions, cluster: &Cluster) -> anyhow::Result<()> {
        let mut env = Self::common_env(cluster, &self.emulator_base);
        env.extend([
            ("BOARD_BIND", "off".into()),
            // The chain runs too, as in production, only more often.
            ("AUTO_CLEANUP", "true".into()),
            ("CLEANUP_INITIAL_DELAY_SECS", "2".into()),
            ("CLEANUP_INTERVAL_BUSY_SECS", "5".into()),
            ("CLEANUP_INTERVAL_IDLE_SECS", "10".into()),
            ("CLEANUP_INTERVAL_ERROR_SECS", "5".into()),
            ("CHAIN_DEADMAN_INTERVAL_SECS", "2".into()),
            ("CHAIN_OVERDUE_GRACE_SECS", "10".into()),
            ("WORKER_HEARTBEAT_SECS", "1".into()),
            ("WORKER_MISSED_HEARTBEATS", "3".into()),
            ("WORKER_POLL_INTERVAL_MS", "100".into()),
            ("JOB_MAX_ATTEMPTS", "8".into()),
            ("JOB_BACKOFF_BASE_MS", "200".into()),
            ("JOB_BACKOFF_MAX_SECS", "5".into()),
            ("WORKER_SHUTDOWN_TIMEOUT_SECS", "5".into()),
            // Closes tasks lost with Redis's data within the run.
            ("MAINTENANCE_INTERVAL_SECS", "5".into()),
        ]);
        let bin = options.bin_dir.join("payments-worker");
        self.worker = Some(self.spawn(&bin, "worker", &env, &[])?);
        self.worker_starts += 1;
        Ok(())
    }

    /// SIGKILL: the worker dies mid-job, as on an OOM kill.
    pub fn kill_worker(&mut self) {
        if let Some(mut child) = self.worker.take() {
            kill(&mut child);
        }
    }

    pub fn restart_worker(
        &mut self,
        options: &ChaosOptions,
        cluster: &Cluster,
    ) -> anyhow::Result<()> {
        self.start_worker(options, cluster)
    }

    pub async fn wait_ready(
        &self,
        api: &ApiClient,
        control: &EmulatorControl,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(api.ready().await && control.healthy().await) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the API or the emulator is not ready after 60 s (logs in {})",
                self.logs.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// SIGTERM to the worker and the API (graceful), then the emulator.
    pub async fn stop(&mut self) {
        for child in [&mut self.worker, &mut self.api, &mut self.emulator] {
            if let Some(mut c) = child.take() {
                let mut term = Command::new("kill");
                term.arg(c.id().to_string());
                let _ = output(term).await;
                let deadline = Instant::now() + Duration::from_secs(10);
                while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                kill(&mut c);
            }
        }
    }
}

fn alive(child: &mut Option<Child>) -> bool {
    child
        .as_mut()
        .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
}

impl Drop for Services {
    fn drop(&mut self) {
        for child in [&mut self.worker, &mut self.api, &mut self.emulator] {
            if let Some(mut c) = child.take() {
                kill(&mut c);
            }
        }
    }
}

impl Drop for Cluster {
    /// Never leave a Redis behind; PostgreSQL is stopped by [`Cluster::stop`].
    fn drop(&mut self) {
        if let Some(mut child) = self.redis.get_mut().take() {
            kill(&mut child);
        }
    }
}
