//! Services that look stopped to one test without being stopped for the others.

use std::time::{Duration, Instant};

use sage_infra::config::Env;

/// A TCP forwarder in front of a real service that a test can close and reopen on the
/// same port: the service looks stopped to whoever connects through the gate, without
/// stopping it for the other tests running at the same time.
pub struct TcpGate {
    pub port: u16,
    target: std::net::SocketAddr,
    open: std::sync::Mutex<Option<tokio_util::sync::CancellationToken>>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TcpGate {
    pub async fn start(target: std::net::SocketAddr) -> std::sync::Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = std::sync::Arc::new(Self {
            port,
            target,
            open: std::sync::Mutex::new(None),
            accepted: std::sync::Arc::default(),
        });
        gate.serve(listener);
        gate
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let token = tokio_util::sync::CancellationToken::new();
        *self.open.lock().unwrap() = Some(token.clone());
        let target = self.target;
        let accepted = self.accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    () = token.cancelled() => return,
                    inbound = listener.accept() => inbound.unwrap(),
                };
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let token = token.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
    }

    /// How many connections the gate has let through so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Refuses new connections and cuts the open ones.
    pub fn close(&self) {
        if let Some(token) = self.open.lock().unwrap().take() {
            token.cancel();
        }
    }

    pub async fn reopen(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(error) => {
                    assert!(Instant::now() < deadline, "cannot reopen the gate: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        self.serve(listener);
    }
}

/// Routes `env`'s Redis traffic through a gate; returns it and the direct URL (for a
/// process that should bypass it).
pub async fn gate_redis(env: &mut Env) -> (std::sync::Arc<TcpGate>, String) {
    let direct = env.raw("REDIS_URL").unwrap().to_owned();
    let (credentials, rest) = direct
        .trim_start_matches("redis://")
        .rsplit_once('@')
        .map_or(("", direct.trim_start_matches("redis://")), |(c, r)| (c, r));
    let address = rest.split('/').next().unwrap();
    let gate = TcpGate::start(address.parse().unwrap()).await;
    let credentials = if credentials.is_empty() {
        String::new()
    } else {
        format!("{credentials}@")
    };
    env.set(
        "REDIS_URL",
        format!("redis://{credentials}127.0.0.1:{}/0", gate.port),
    );
    (gate, direct)
}
