//! Headless Chromium under chromedriver, for the tests that need a real
//! browser (the dashboard, and attacks from other web pages).
#![allow(dead_code)]

use std::process::Stdio;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{STEP, within};

pub async fn text(element: &fantoccini::elements::Element) -> String {
    element.text().await.expect("element text")
}

/// Headless Chromium under chromedriver, on ports the system picks.
pub struct Browser {
    pub client: Client,
    driver: tokio::process::Child,
}

impl Browser {
    pub async fn start() -> Self {
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let mut driver = tokio::process::Command::new(&driver_path)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run {driver_path} ({error}): the dashboard tests need Chromium and its driver \
                     (Debian: apt-get install chromium chromium-driver; .ci/run installs them)"
                )
            });
        let port = within("chromedriver to start", chromedriver_port(driver.stdout.take().unwrap())).await;
        let mut capabilities = serde_json::Map::new();
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]
        });
        if let Ok(binary) = std::env::var("CHROMIUM") {
            options["binary"] = binary.into();
        }
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = within(
            "a browser session",
            ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .expect("chromedriver starts a headless Chromium");
        Self { client, driver }
    }

    /// The element at `css`, once the page shows it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(STEP)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("the page never showed {css}: {error}"))
    }

    /// The texts of the `count` elements at `css`, once there are that many.
    pub async fn texts(&self, css: &str, count: usize) -> Vec<String> {
        within(&format!("{count} × {css}"), async {
            loop {
                let elements = self.client.find_all(Locator::Css(css)).await.expect("find elements");
                if elements.len() >= count {
                    let mut texts = Vec::new();
                    for element in elements {
                        texts.push(text(&element).await);
                    }
                    return texts;
                }
                self.client.wait().at_most(STEP).for_element(Locator::Css(css)).await.expect("wait");
            }
        })
        .await
    }

    /// Waits until the element at `css` contains `expected`. WebDriver
    /// offers no change notifications, so this re-reads the DOM, finding
    /// the element again each time (the dashboard redraws its game cards).
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        self.wait_until(css, &format!("show {expected:?}"), |shown| shown.contains(expected)).await;
    }

    /// Waits until the text of the element at `css` satisfies `test`
    /// (`what` says how, for the timeout's message); returns that text.
    pub async fn wait_until(&self, css: &str, what: &str, test: impl Fn(&str) -> bool) -> String {
        within(&format!("{css} to {what}"), async {
            loop {
                if let Ok(element) = self.client.find(Locator::Css(css)).await
                    && let Ok(shown) = element.text().await
                    && test(&shown)
                {
                    return shown;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
    }

    /// Types `value` into the field at `css`, replacing its text; starts
    /// over on a field that a redraw replaced meanwhile.
    pub async fn fill(&self, css: &str, value: &str) {
        within(&format!("filling {css}"), async {
            loop {
                let field = self.find(css).await;
                match field.clear().await.and(field.send_keys(value).await) {
                    Ok(()) => return,
                    Err(error) if error.is_stale_element_reference() => continue,
                    Err(error) => panic!("cannot type into {css}: {error}"),
                }
            }
        })
        .await
    }

    /// Clicks the element at `css`, finding it again when a redraw replaced
    /// it between finding and clicking (the dashboard redraws game cards).
    pub async fn click(&self, css: &str) {
        within(&format!("a click on {css}"), async {
            loop {
                match self.find(css).await.click().await {
                    Ok(()) => return,
                    Err(error) if error.is_stale_element_reference() => continue,
                    Err(error) => panic!("cannot click {css}: {error}"),
                }
            }
        })
        .await
    }

    /// Saves a PNG of the page as `name` in `$GAMEBRIDGE_SCREENSHOTS`, when
    /// that is set (the README's screenshots are made so).
    pub async fn screenshot_if_asked(&self, name: &str) {
        if let Some(dir) = std::env::var_os("GAMEBRIDGE_SCREENSHOTS") {
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(std::path::Path::new(&dir).join(name), png).expect("write the screenshot");
        }
    }

    pub async fn stop(self) {
        let _ = self.client.close().await;
        drop(self.driver);
    }
}

/// Reads chromedriver's "started successfully on port N." line.
async fn chromedriver_port(stdout: tokio::process::ChildStdout) -> u16 {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await.expect("read chromedriver's output") {
        if let Some(rest) = line.strip_prefix("ChromeDriver was started successfully on port ") {
            return rest.trim_end_matches('.').parse().expect("a port number");
        }
    }
    panic!("chromedriver exited without starting");
}
