//! ACME HTTP-01 answers on the http listener: `/.well-known/acme-challenge/TOKEN` gets
//! the file `TOKEN` of the challenge directory the daemon writes while it obtains a
//! certificate (docs/proxy.md#acme). A token is base64url only, so it names a file in
//! that directory and nothing else; the file is opened without following a symbolic
//! link, must be a regular file and is read up to [`MAX_ANSWER`] bytes.

use crate::body::DownBody;
use crate::respond;
use http::{Response, StatusCode};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A key authorization is a token, a dot and a 43-character digest: far below this.
const MAX_ANSWER: u64 = 4096;

/// The answer to the challenge `token` from `dir`: 200 with the file's bytes, else 404.
pub(crate) fn answer(dir: &Path, token: &str) -> Response<DownBody> {
    let not_found = || respond::text(StatusCode::NOT_FOUND, "no such challenge");
    if !lcc_core::acme_challenge::token_ok(token) {
        return not_found();
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(dir.join(token));
    let Ok(file) = file else {
        return not_found();
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return not_found();
    }
    let mut body = String::new();
    if file.take(MAX_ANSWER).read_to_string(&mut body).is_err() {
        return not_found();
    }
    respond::with_type(StatusCode::OK, "application/octet-stream", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_body(dir: &Path, token: &str) -> (StatusCode, String) {
        use http_body_util::BodyExt;
        let resp = answer(dir, token);
        let status = resp.status();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let body = rt
            .block_on(resp.into_body().collect())
            .map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned())
            .unwrap_or_default();
        (status, body)
    }

    #[test]
    fn only_a_regular_file_named_by_a_token_is_served() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("challenges");
        std::fs::create_dir(&dir).expect("dir");
        std::fs::write(dir.join("tok-1_A"), "tok-1_A.digest").expect("write");
        std::fs::write(tmp.path().join("secret"), "secret").expect("write");
        std::os::unix::fs::symlink(tmp.path().join("secret"), dir.join("link")).expect("link");
        std::fs::create_dir(dir.join("sub")).expect("sub");
        let cases = [
            ("tok-1_A", StatusCode::OK, "tok-1_A.digest"),
            ("missing", StatusCode::NOT_FOUND, ""),
            ("link", StatusCode::NOT_FOUND, ""),
            ("sub", StatusCode::NOT_FOUND, ""),
            ("..", StatusCode::NOT_FOUND, ""),
            ("../secret", StatusCode::NOT_FOUND, ""),
            ("", StatusCode::NOT_FOUND, ""),
        ];
        for (token, status, body) in cases {
            let (got, text) = status_and_body(&dir, token);
            assert_eq!(got, status, "{token:?}");
            if status == StatusCode::OK {
                assert_eq!(text, body);
            }
        }
    }
}
