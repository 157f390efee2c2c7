//! The audit and notification event types, by the names services migrating to Tidings already
//! use (`USER_LOGIN`, `USER_WELCOME`…), each with a `Custom` case for a service's own.

use std::{fmt, str::FromStr};

/// An enum of named event types plus `Custom(String)`, serialised as its name.
macro_rules! event_types {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A type of the service's own, by its name.
            Custom(String),
        }

        impl $name {
            /// The named types (every one but `Custom`).
            pub const NAMED: &'static [$name] = &[$($name::$variant),*];

            /// The type's name: `"USER_LOGIN"`, or a custom type's own.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Custom(name) => name,
                }
            }
        }

        impl From<&str> for $name {
            /// The named type of that name, or `Custom` of it.
            fn from(name: &str) -> Self {
                match name {
                    $($text => Self::$variant,)*
                    other => Self::Custom(other.to_owned()),
                }
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(name: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self::from(name.as_ref()))
            }
        }
    };
}

event_types! {
    /// What an audit event records.
    AuditEventType {
        /// A user signed in.
        UserLogin = "USER_LOGIN",
        /// A user signed out.
        UserLogout = "USER_LOGOUT",
        /// An action was refused for want of a permission.
        PermissionDenied = "PERMISSION_DENIED",
        /// A record was created.
        DataCreated = "DATA_CREATED",
        /// A record was changed.
        DataUpdated = "DATA_UPDATED",
        /// A record was removed.
        DataDeleted = "DATA_DELETED",
        /// A record was read.
        DataAccessed = "DATA_ACCESSED",
        /// A certificate was issued.
        CertificateIssued = "CERTIFICATE_ISSUED",
        /// A certificate was revoked.
        CertificateRevoked = "CERTIFICATE_REVOKED",
        /// Something broke a security rule.
        SecurityViolation = "SECURITY_VIOLATION",
        /// The service started.
        ServiceStarted = "SERVICE_STARTED",
        /// The service met an error.
        ServiceError = "SERVICE_ERROR",
        /// The service's configuration changed.
        ConfigurationChanged = "CONFIGURATION_CHANGED",
    }
}

event_types! {
    /// What a notification tells its recipients.
    NotificationEventType {
        /// A new user is welcomed.
        UserWelcome = "USER_WELCOME",
        /// A user asked to reset their password.
        UserPasswordReset = "USER_PASSWORD_RESET",
        /// A user's account was locked.
        UserAccountLocked = "USER_ACCOUNT_LOCKED",
        /// A certificate expires soon.
        CertificateExpiring = "CERTIFICATE_EXPIRING",
        /// A certificate has expired.
        CertificateExpired = "CERTIFICATE_EXPIRED",
        /// Maintenance is planned.
        SystemMaintenance = "SYSTEM_MAINTENANCE",
        /// Something needs attention now.
        SystemAlert = "SYSTEM_ALERT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_both_ways_and_others_are_custom() {
        for kind in AuditEventType::NAMED {
            assert_eq!(&AuditEventType::from(kind.as_str()), kind);
        }
        for kind in NotificationEventType::NAMED {
            assert_eq!(&NotificationEventType::from(kind.as_str()), kind);
        }
        assert_eq!(AuditEventType::NAMED.len(), 13);
        assert_eq!(NotificationEventType::NAMED.len(), 7);
        assert_eq!(
            AuditEventType::from("INVOICE_PAID"),
            AuditEventType::Custom("INVOICE_PAID".into())
        );
        let json = serde_json::to_string(&AuditEventType::UserLogin).expect("json");
        assert_eq!(json, r#""USER_LOGIN""#);
        let back: NotificationEventType = serde_json::from_str(r#""SYSTEM_ALERT""#).expect("json");
        assert_eq!(back, NotificationEventType::SystemAlert);
    }
}
