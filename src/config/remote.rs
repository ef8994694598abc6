//! What makes an agent remote: `host` (`[user@]name[:port]`), the
//! `ssh_options` it may pass (`Key=Value`, keys from an allow-list) and the
//! agent CLI's path there (`remote_cli`). Every value here ends up on an
//! `ssh` command line or in a remote shell command, so each is checked
//! once, the same way, wherever it is given (config file, CLI): nothing
//! may start with `-` (an ssh flag), hold a control character, or, for
//! hosts and users, anything but the characters of names.

use std::fmt;

/// `[user@]name[:port]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Why a remote setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteProblem {
    Host(String),
    OptionShape(String),
    OptionKey(String),
    OptionValue { option: String, why: &'static str },
    RemoteCli(String),
    RemoteDirectory(String),
}

/// The `ssh -o` keys an agent may set: where to connect and how to trust
/// the host. Nothing that runs a command (`ProxyCommand`,
/// `LocalCommand`, `KnownHostsCommand`) or forwards anything.
pub const SSH_OPTION_KEYS: [&str; 12] = [
    "Port",
    "User",
    "IdentityFile",
    "IdentitiesOnly",
    "UserKnownHostsFile",
    "StrictHostKeyChecking",
    "ProxyJump",
    "ConnectTimeout",
    "ServerAliveInterval",
    "ServerAliveCountMax",
    "HostKeyAlias",
    "CertificateFile",
];

/// The characters of a host or user name; a name starts with a letter or
/// digit (or `[` for an IPv6 address in brackets, host only).
fn is_name(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn is_ipv6_in_brackets(text: &str) -> bool {
    text.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inner| {
            !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
        })
}

impl SshTarget {
    pub fn parse(text: &str) -> Result<SshTarget, RemoteProblem> {
        let bad = || RemoteProblem::Host(text.to_owned());
        if text.len() > 255 {
            return Err(bad());
        }
        let (user, rest) = match text.split_once('@') {
            Some((user, rest)) if is_name(user) => (Some(user.to_owned()), rest),
            Some(_) => return Err(bad()),
            None => (None, text),
        };
        let (host, port) = match rest.rsplit_once(':') {
            // A bare IPv6 address has colons of its own; it needs brackets.
            Some((host, port)) if !port.contains(']') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(bad)?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        if !(is_name(host) || is_ipv6_in_brackets(host)) {
            return Err(bad());
        }
        Ok(SshTarget {
            user,
            host: host.to_owned(),
            port,
        })
    }

    /// The destination as ssh takes it after `--`: `[user@]host`, brackets
    /// of an IPv6 address removed (the port goes in `-p`).
    pub fn destination(&self) -> String {
        let host = self
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host);
        match &self.user {
            Some(user) => format!("{user}@{host}"),
            None => host.to_owned(),
        }
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// One `ssh_options` entry, `Key=Value`, checked; returns it as ssh takes
/// it after `-o`, the key spelled as the allow-list spells it.
pub fn ssh_option(text: &str) -> Result<String, RemoteProblem> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| RemoteProblem::OptionShape(text.to_owned()))?;
    let key = SSH_OPTION_KEYS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(key.trim()))
        .ok_or_else(|| RemoteProblem::OptionKey(key.trim().to_owned()))?;
    let value = value.trim();
    let refuse = |why| RemoteProblem::OptionValue {
        option: text.to_owned(),
        why,
    };
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(refuse("needs a value without control characters"));
    }
    if value.starts_with('-') {
        return Err(refuse("may not start with '-'"));
    }
    let fits = match *key {
        "Port" => value.parse::<u16>().is_ok_and(|p| p > 0),
        "ConnectTimeout" | "ServerAliveInterval" | "ServerAliveCountMax" => {
            value.parse::<u32>().is_ok_and(|n| n <= 3600)
        }
        "IdentitiesOnly" => ["yes", "no"].contains(&value),
        "StrictHostKeyChecking" => ["yes", "no", "accept-new", "ask", "off"].contains(&value),
        "User" | "HostKeyAlias" => is_name(value),
        // A jump is a host list, never a command.
        "ProxyJump" => value.split(',').all(|hop| SshTarget::parse(hop).is_ok()),
        // Paths: ssh expands `%` tokens and `~` in them, nothing more.
        _ => !value.contains(char::is_whitespace),
    };
    if !fits {
        return Err(refuse("is not a value ssh takes for that key here"));
    }
    Ok(format!("{key}={value}"))
}

/// The remote-only key an agent sets without a `host` (where it would be
/// silently unused), if any.
pub fn without_host(agent: &crate::config::Agent) -> Option<&'static str> {
    if agent.host.is_some() {
        None
    } else if !agent.ssh_options.is_empty() {
        Some("ssh_options")
    } else if agent.remote_cli.is_some() {
        Some("remote_cli")
    } else {
        None
    }
}

/// A comma list of `Key=Value` options as one text: a piece without `=`
/// continues the value before it, so `ProxyJump=a,b` (a list of hops)
/// stays one option.
pub fn split_options(csv: &str) -> Vec<String> {
    let mut options: Vec<String> = Vec::new();
    for piece in csv
        .split(',')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
    {
        match options.last_mut() {
            Some(last) if !piece.contains('=') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => options.push(piece.to_owned()),
        }
    }
    options
}

/// The agent CLI's path on the remote host: a command name or a path.
pub fn remote_cli(text: &str) -> Result<String, RemoteProblem> {
    let text = text.trim();
    if text.is_empty()
        || text.starts_with('-')
        || text.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(RemoteProblem::RemoteCli(text.to_owned()));
    }
    Ok(text.to_owned())
}

/// A project directory on a remote host: absolute, or under the remote
/// home (`~`, `~/…`); it is resolved there, never here.
pub fn remote_directory(text: &str) -> Result<String, RemoteProblem> {
    let fits = (text.starts_with('/') || text == "~" || text.starts_with("~/"))
        && !text.chars().any(char::is_control);
    if fits {
        Ok(text.to_owned())
    } else {
        Err(RemoteProblem::RemoteDirectory(text.to_owned()))
    }
}

impl fmt::Display for RemoteProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteProblem::Host(host) => write!(
                f,
                "{host:?} is not a host: use [user@]name[:port] (letters, digits, '.', '_', '-'; an IPv6 address in brackets)"
            ),
            RemoteProblem::OptionShape(option) => {
                write!(f, "{option:?} is not an ssh option: use Key=Value")
            }
            RemoteProblem::OptionKey(key) => write!(
                f,
                "ssh option {key:?} is not allowed; allowed: {}",
                SSH_OPTION_KEYS.join(", ")
            ),
            RemoteProblem::OptionValue { option, why } => {
                write!(f, "ssh option {option:?}: the value {why}")
            }
            RemoteProblem::RemoteCli(text) => write!(
                f,
                "{text:?} is not a command: give the agent CLI's name or path on the host, without spaces and not starting with '-'"
            ),
            RemoteProblem::RemoteDirectory(text) => write!(
                f,
                "{text:?} is not a directory on the host: give an absolute path, or one under '~/'"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_and_flags_never_do() {
        let t = SshTarget::parse("me@build-box.lan:2222").unwrap();
        assert_eq!(
            (t.user.as_deref(), t.host.as_str(), t.port),
            (Some("me"), "build-box.lan", Some(2222))
        );
        assert_eq!(t.to_string(), "me@build-box.lan:2222");
        assert_eq!(t.destination(), "me@build-box.lan");
        let v6 = SshTarget::parse("[::1]:22").unwrap();
        assert_eq!(v6.destination(), "::1");
        for bad in [
            "-oProxyCommand=touch /tmp/x",
            "me@-oProxyCommand=x",
            "-p",
            "host name",
            "host;rm",
            "h:0",
            "h:99999",
            "",
            "@h",
            "h\n",
            "::1",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_allowed_options_with_plain_values_pass() {
        assert_eq!(ssh_option("port=2222").unwrap(), "Port=2222");
        assert_eq!(
            ssh_option("UserKnownHostsFile=/tmp/k h").unwrap_err(),
            RemoteProblem::OptionValue {
                option: "UserKnownHostsFile=/tmp/k h".into(),
                why: "is not a value ssh takes for that key here"
            }
        );
        assert!(ssh_option("IdentityFile=~/.ssh/id_ed25519").is_ok());
        assert!(ssh_option("ProxyJump=me@jump:22,bastion").is_ok());
        for bad in [
            "ProxyCommand=sh -c x",
            "LocalCommand=x",
            "ProxyJump=-oProxyCommand=x",
            "Port=-1",
            "StrictHostKeyChecking=maybe",
            "IdentityFile=-x",
            "Port",
            "User=a b",
        ] {
            assert!(ssh_option(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_option_list_keeps_a_multi_hop_jump_together() {
        assert_eq!(
            split_options("IdentityFile=~/.ssh/k, ProxyJump=a,b:22 ,Port=22"),
            ["IdentityFile=~/.ssh/k", "ProxyJump=a,b:22", "Port=22"]
        );
        assert!(ssh_option(&split_options("ProxyJump=a,b")[0]).is_ok());
        assert_eq!(split_options("stray,Port=1"), ["stray", "Port=1"]);
    }

    #[test]
    fn remote_cli_and_directory_are_checked() {
        assert!(remote_cli("/home/me/.local/bin/claude").is_ok());
        assert!(remote_cli("--yolo").is_err());
        assert!(remote_cli("claude; rm -rf /").is_err());
        assert!(remote_directory("/srv/api").is_ok());
        assert!(remote_directory("~/work/api").is_ok());
        assert!(remote_directory("work/api").is_err());
        assert!(remote_directory("/srv/a\nb").is_err());
    }
}
