//! `gamebridge sim --emu`: the part of MAME's Lua API that a lockstep
//! script uses, backed by real sockets, so a MAME script (and the SDK's
//! `gamebridge.mame` link) can run and be tested without MAME.
//!
//! - `emu.file(path, flags)` gives a file whose `open(name)` connects to
//!   `socket.HOST:PORT` (TCP) or `domain./PATH` (a Unix socket) and returns
//!   nil, or an error string. As in MAME, `read(n)` never blocks: it returns
//!   what has arrived, up to n bytes, possibly "" (also at end of stream).
//!   `write(data)` writes all of it, waiting up to [`WRITE_TIMEOUT`] for
//!   room, and returns the number of bytes written. `close()` closes it.
//! - `emu.add_machine_frame_notifier(fn)` and
//!   `emu.add_machine_stop_notifier(fn)` register functions run every tick
//!   and when the run stops. Each returns a subscription with
//!   `unsubscribe()` and `is_active`, like MAME's. The older
//!   `emu.register_frame_done(fn)` and `emu.register_stop(fn)` do the same.
//! - `emu.print_info(text)`, `emu.print_error(text)`: stdout and stderr.

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use mlua::{Function, Lua, LuaString, UserData, UserDataFields, UserDataMethods, Variadic};

/// How long one `write` waits for the peer to make room.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `open` waits for a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most one `read` returns, whatever it asks for.
const MAX_READ: usize = 1 << 20;

/// The functions scripts registered, in registration order.
#[derive(Default)]
pub struct Machine {
    frame: Notifiers,
    stop: Notifiers,
}

impl Machine {
    /// Runs every frame notifier once (one tick of the machine).
    pub fn run_frame_notifiers(&self) -> mlua::Result<()> {
        self.frame.run()
    }

    /// Runs every stop notifier once, when the run ends.
    pub fn run_stop_notifiers(&self) -> mlua::Result<()> {
        self.stop.run()
    }
}

#[derive(Default)]
struct Notifiers {
    next_id: Cell<u64>,
    functions: RefCell<Vec<(u64, Function)>>,
}

impl Notifiers {
    fn add(&self, function: Function) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        self.functions.borrow_mut().push((id, function));
        id
    }

    fn remove(&self, id: u64) -> bool {
        let mut functions = self.functions.borrow_mut();
        let before = functions.len();
        functions.retain(|(each, _)| *each != id);
        functions.len() != before
    }

    fn contains(&self, id: u64) -> bool {
        self.functions.borrow().iter().any(|(each, _)| *each == id)
    }

    /// Runs the functions registered now; one may add or remove others meanwhile.
    fn run(&self) -> mlua::Result<()> {
        let functions: Vec<Function> =
            self.functions.borrow().iter().map(|(_, function)| function.clone()).collect();
        for function in functions {
            function.call::<()>(())?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Frame,
    Stop,
}

/// What `add_machine_*_notifier` returns.
struct Subscription {
    machine: Rc<Machine>,
    kind: Kind,
    id: u64,
}

impl Subscription {
    fn notifiers(&self) -> &Notifiers {
        match self.kind {
            Kind::Frame => &self.machine.frame,
            Kind::Stop => &self.machine.stop,
        }
    }
}

impl UserData for Subscription {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("is_active", |_, this| Ok(this.notifiers().contains(this.id)));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("unsubscribe", |_, this, ()| Ok(this.notifiers().remove(this.id)));
    }
}

/// A connected socket of an `emu.file`.
enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    fn connect(name: &str) -> Result<Self, String> {
        if let Some(address) = name.strip_prefix("socket.") {
            let addresses = address.to_socket_addrs().map_err(|error| format!("{address}: {error}"))?;
            let mut last_error = format!("{address}: no address");
            for address in addresses {
                match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        return Ok(Self::Tcp(stream));
                    }
                    Err(error) => last_error = format!("{address}: {error}"),
                }
            }
            return Err(last_error);
        }
        if let Some(path) = name.strip_prefix("domain.") {
            #[cfg(unix)]
            return std::os::unix::net::UnixStream::connect(path)
                .map(Self::Unix)
                .map_err(|error| format!("{path}: {error}"));
            #[cfg(not(unix))]
            return Err(format!("{path}: Unix sockets are not supported on this system"));
        }
        Err(format!("gamebridge sim --emu opens only socket.HOST:PORT and domain./PATH names, not {name:?}"))
    }

    fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.set_nonblocking(nonblocking),
            #[cfg(unix)]
            Self::Unix(stream) => stream.set_nonblocking(nonblocking),
        }
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.set_write_timeout(timeout),
            #[cfg(unix)]
            Self::Unix(stream) => stream.set_write_timeout(timeout),
        }
    }

    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.read(buffer),
            #[cfg(unix)]
            Self::Unix(stream) => stream.read(buffer),
        }
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.write(data),
            #[cfg(unix)]
            Self::Unix(stream) => stream.write(data),
        }
    }

    /// Writes as much of data as the peer takes within the write timeout.
    /// The socket is blocking meanwhile, non-blocking again after.
    fn write_all_counted(&mut self, data: &[u8]) -> usize {
        if self.set_nonblocking(false).is_err() {
            return 0;
        }
        let mut written = 0;
        while written < data.len() {
            match self.write(&data[written..]) {
                Ok(0) => break,
                Ok(count) => written += count,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => break, // timed out, or the peer is gone
            }
        }
        let _ = self.set_nonblocking(true);
        written
    }
}

/// What `emu.file(...)` returns.
#[derive(Default)]
struct EmuFile {
    stream: Option<Stream>,
}

impl UserData for EmuFile {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // nil when connected, else the reason (MAME returns an error string too).
        methods.add_method_mut("open", |_, this, name: String| {
            this.stream = None;
            let stream = match Stream::connect(&name) {
                Ok(stream) => stream,
                Err(error) => return Ok(Some(error)),
            };
            if let Err(error) =
                stream.set_nonblocking(true).and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)))
            {
                return Ok(Some(format!("{name}: {error}")));
            }
            this.stream = Some(stream);
            Ok(None)
        });
        // What has arrived, up to n bytes; "" when nothing has (or the stream ended).
        methods.add_method_mut("read", |lua, this, n: usize| {
            let Some(stream) = this.stream.as_mut() else {
                return lua.create_string("");
            };
            let mut buffer = vec![0; n.min(MAX_READ)];
            let count = loop {
                match stream.read(&mut buffer) {
                    Ok(count) => break count,
                    Err(error) if error.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break 0, // WouldBlock: nothing yet; other errors read as nothing, as in MAME
                }
            };
            lua.create_string(&buffer[..count])
        });
        methods.add_method_mut("write", |_, this, data: LuaString| {
            let Some(stream) = this.stream.as_mut() else {
                return Ok(0);
            };
            Ok(stream.write_all_counted(&data.as_bytes()))
        });
        methods.add_method_mut("close", |_, this, ()| {
            this.stream = None;
            Ok(())
        });
    }
}

/// Installs the global `emu` table. The returned machine holds the
/// notifiers the script registers; the host runs them.
pub fn install(lua: &Lua) -> mlua::Result<Rc<Machine>> {
    let machine = Rc::new(Machine::default());
    let emu = lua.create_table()?;
    // emu.file(path, flags) or emu.file(flags): the search path and flags do not matter here.
    emu.set("file", lua.create_function(|_, _: Variadic<mlua::Value>| Ok(EmuFile::default()))?)?;
    for (name, kind) in
        [("add_machine_frame_notifier", Kind::Frame), ("add_machine_stop_notifier", Kind::Stop)]
    {
        let machine = machine.clone();
        let subscribe = lua.create_function(move |_, function: Function| {
            let id = match kind {
                Kind::Frame => machine.frame.add(function),
                Kind::Stop => machine.stop.add(function),
            };
            Ok(Subscription { machine: machine.clone(), kind, id })
        })?;
        emu.set(name, subscribe)?;
    }
    for (name, kind) in [("register_frame_done", Kind::Frame), ("register_stop", Kind::Stop)] {
        let machine = machine.clone();
        let register = lua.create_function(move |_, function: Function| {
            match kind {
                Kind::Frame => machine.frame.add(function),
                Kind::Stop => machine.stop.add(function),
            };
            Ok(())
        })?;
        emu.set(name, register)?;
    }
    emu.set(
        "print_info",
        lua.create_function(|_, text: String| {
            println!("{text}");
            Ok(())
        })?,
    )?;
    emu.set(
        "print_error",
        lua.create_function(|_, text: String| {
            eprintln!("{text}");
            Ok(())
        })?,
    )?;
    lua.globals().set("emu", emu)?;
    Ok(machine)
}
