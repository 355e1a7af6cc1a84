//! A TCP proxy of the test's own between the server and its database, for injecting faults: cut
//! (every open connection dropped and the port closed, so new connections are refused — what a
//! client sees of a database restart), restored on the same port, and slowed (every chunk of
//! the database's answers held back for a while).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy to one upstream address; stops when dropped.
pub struct Proxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    upstream: SocketAddr,
    /// Bumped on every cut: open connections end when it changes.
    cuts: watch::Sender<u64>,
    /// How long each chunk from the upstream is held back, in milliseconds.
    delay_ms: Arc<AtomicU64>,
    accepting: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1 forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (cuts, _) = watch::channel(0);
        let mut proxy = Self {
            port: listener.local_addr().unwrap().port(),
            upstream,
            cuts,
            delay_ms: Arc::default(),
            accepting: None,
        };
        proxy.accept_on(listener);
        proxy
    }

    fn accept_on(&mut self, listener: TcpListener) {
        let (upstream, cuts, delay_ms) = (self.upstream, self.cuts.clone(), self.delay_ms.clone());
        self.accepting = Some(tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (mut cut, delay_ms) = (cuts.subscribe(), delay_ms.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = inbound.into_split();
                    let (mut server_read, mut server_write) = outbound.into_split();
                    let requests = tokio::io::copy(&mut client_read, &mut server_write);
                    let answers = async {
                        let mut chunk = vec![0; 16 * 1024];
                        loop {
                            let read = server_read.read(&mut chunk).await?;
                            if read == 0 {
                                return Ok::<(), std::io::Error>(());
                            }
                            let delay = delay_ms.load(Ordering::SeqCst);
                            if delay > 0 {
                                tokio::time::sleep(Duration::from_millis(delay)).await;
                            }
                            client_write.write_all(&chunk[..read]).await?;
                        }
                    };
                    tokio::select! {
                        _ = requests => {}
                        _ = answers => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        }));
    }

    /// Closes the port (new connections are refused) and drops every open connection.
    pub fn cut(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
        }
        self.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// Holds back every chunk of the upstream's answers for `delay` (zero: none).
    pub fn slow(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap();
        self.delay_ms.store(millis, Ordering::SeqCst);
    }

    /// Listens on the same port again.
    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.accept_on(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}
