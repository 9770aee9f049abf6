//! A real browser for the dashboard tests: Debian's `chromium`, headless, driven over
//! WebDriver by `chromedriver` (both installed by `.ci/run`). Each [`Browser`] has its
//! own chromedriver on a port of its own and its own profile directory; on drop every
//! process of either is killed, even when the test failed before closing the session.

use super::free_port;
use super::process::kill_group;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long one look for an element waits at most.
pub const LOOK: Duration = Duration::from_secs(30);

/// A headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    profile: tempfile::TempDir,
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width` x `height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        let chromium = which("chromium").unwrap_or_else(|| {
            panic!("the dashboard tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
        });
        let chromedriver = which("chromedriver").unwrap_or_else(|| {
            panic!("the dashboard tests need chromedriver (apt-get install chromium-driver)")
        });
        let port = free_port();
        let profile = tempfile::tempdir().expect("profile dir");
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: chromium and its helpers go with it on drop.
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-extensions",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Polls `look` until it gives `Some`, for at most `within`; panics naming `what`.
    pub async fn until<T, F, Fut>(&self, what: &str, within: Duration, mut look: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = look().await {
                return v;
            }
            if Instant::now() > deadline {
                let html = self
                    .client
                    .source()
                    .await
                    .unwrap_or_else(|e| format!("(no page source: {e})"));
                panic!("the page never showed {what} within {within:?}:\n{html}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many elements `css` matches now.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |v| v.len())
    }

    /// Clicks the element `css` matches, waiting for it to be there (and finding it
    /// again when the page redrew it between the look and the click).
    pub async fn click(&self, css: &str) {
        self.until(css, LOOK, || async {
            let el = self.client.find(Locator::Css(css)).await.ok()?;
            el.click().await.ok()
        })
        .await;
    }

    /// Presses `key` on the keyboard (it goes to whatever has the focus).
    pub async fn press(&self, key: Key) {
        let key = char::from(key);
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("press {key:?}: {e}"));
    }

    /// The text of the element `css` matches, if it is there.
    pub async fn text(&self, css: &str) -> Option<String> {
        let el = self.client.find(Locator::Css(css)).await.ok()?;
        el.text().await.ok()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group("KILL", self.driver.id() as i32);
        let _ = self.driver.wait();
        // Chromium's helpers may have left the group: whatever runs with this profile.
        let mark = self.profile.path().display().to_string();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&mark) {
                super::kill9(pid);
            }
        }
    }
}
