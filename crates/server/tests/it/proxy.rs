//! A TCP proxy of the test's own between the server and its database, for injecting faults: cut
//! (every open connection dropped and the port closed, so new connections are refused — what a
//! client sees of a database restart) and restored on the same port.

use std::net::SocketAddr;

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
            accepting: None,
        };
        proxy.accept_on(listener);
        proxy
    }

    fn accept_on(&mut self, listener: TcpListener) {
        let (upstream, cuts) = (self.upstream, self.cuts.clone());
        self.accepting = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
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
