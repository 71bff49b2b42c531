//! Removable forward hooks: a callback run after a module's forward pass with its input and
//! output (activation statistics use them). Dropping or removing the [`HookHandle`] removes
//! the hook.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use autograd::Var;
use tensor::Result;

/// What a hook sees.
#[derive(Debug)]
pub struct HookEvent<'a> {
    /// The module's type name.
    pub module: &'static str,
    /// The input of the forward pass.
    pub input: &'a Var,
    /// The output of the forward pass.
    pub output: &'a Var,
}

/// A forward hook callback.
pub type HookFn = dyn FnMut(&HookEvent<'_>) -> Result<()>;

type Slots = RefCell<Vec<(u64, Rc<RefCell<HookFn>>)>>;

/// The hooks of one module.
#[derive(Default)]
pub struct HookList {
    slots: Rc<Slots>,
    next_id: std::cell::Cell<u64>,
}

impl std::fmt::Debug for HookList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HookList({} hooks)", self.slots.borrow().len())
    }
}

impl HookList {
    /// Registers `hook`; it runs until the returned handle is removed or dropped.
    #[must_use = "dropping the handle removes the hook"]
    pub fn register(&self, hook: impl FnMut(&HookEvent<'_>) -> Result<()> + 'static) -> HookHandle {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.slots
            .borrow_mut()
            .push((id, Rc::new(RefCell::new(hook))));
        HookHandle {
            id,
            slots: Rc::downgrade(&self.slots),
        }
    }

    /// Number of registered hooks.
    pub fn len(&self) -> usize {
        self.slots.borrow().len()
    }

    /// True when no hook is registered.
    pub fn is_empty(&self) -> bool {
        self.slots.borrow().is_empty()
    }

    /// Runs every hook in registration order.
    pub fn run(&self, event: &HookEvent<'_>) -> Result<()> {
        if self.slots.borrow().is_empty() {
            return Ok(());
        }
        // Clone the list first so a hook may register or remove hooks.
        let hooks: Vec<_> = self
            .slots
            .borrow()
            .iter()
            .map(|(_, h)| Rc::clone(h))
            .collect();
        for h in hooks {
            (h.borrow_mut())(event)?;
        }
        Ok(())
    }
}

/// Keeps a hook registered; removing or dropping it unregisters the hook.
#[derive(Debug)]
pub struct HookHandle {
    id: u64,
    slots: Weak<Slots>,
}

impl HookHandle {
    /// Unregisters the hook now.
    pub fn remove(self) {
        drop(self)
    }
}

impl Drop for HookHandle {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.upgrade() {
            slots.borrow_mut().retain(|(id, _)| *id != self.id);
        }
    }
}
