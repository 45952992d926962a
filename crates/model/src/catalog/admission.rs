//! A run as its module version admits it: the one door every way in passes (a module
//! run, a tool run, later schedules and scans) and the worker passes again with the
//! stored run. Everything a run's checks derive is derived here, once, and kept: the
//! validated parameters with their real types, the tool inputs rebuilt from their
//! checked fields, and the AWS role the worker is to assume.

use std::ops::Deref;

use super::cloud::AssumeRole;
use super::params::ValidParams;

/// A run its module version admitted. Only [`ModuleDefinition::admit`] and
/// [`ModuleDefinition::readmit`] build one, so holding one means every check passed.
///
/// [`ModuleDefinition::admit`]: super::module::ModuleDefinition::admit
/// [`ModuleDefinition::readmit`]: super::module::ModuleDefinition::readmit
#[derive(Debug, Clone, PartialEq)]
pub struct AdmittedRun {
    params: ValidParams,
    role: Option<AssumeRole>,
}

impl AdmittedRun {
    pub(crate) fn new(params: ValidParams, role: Option<AssumeRole>) -> Self {
        Self { params, role }
    }

    pub fn params(&self) -> &ValidParams {
        &self.params
    }

    /// The AWS role the run asks the worker to assume, its values checked; `None`
    /// without one.
    pub fn role(&self) -> Option<&AssumeRole> {
        self.role.as_ref()
    }
}

/// An admitted run reads as its parameters.
impl Deref for AdmittedRun {
    type Target = ValidParams;

    fn deref(&self) -> &ValidParams {
        &self.params
    }
}
