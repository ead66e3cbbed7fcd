//! The platforms a generated device runs, with what each implies: device type, OS versions,
//! hardware, enrollment types and management agent.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Platform {
    Windows,
    IPhone,
    IPad,
    Android,
    Mac,
}

impl Platform {
    pub(super) fn device_type(self) -> &'static str {
        match self {
            Self::Windows => "Windows",
            Self::IPhone => "IPhone",
            Self::IPad => "IPad",
            Self::Android => "AndroidForWork",
            Self::Mac => "MacMDM",
        }
    }
    pub(super) fn policy_platform(self) -> &'static str {
        match self {
            Self::Windows => "Windows10",
            Self::IPhone | Self::IPad => "IOS",
            Self::Android => "AndroidForWork",
            Self::Mac => "MacOS",
        }
    }
    pub(super) fn os(self) -> &'static str {
        match self {
            Self::Windows => "Windows",
            Self::IPhone | Self::IPad => "iOS",
            Self::Android => "Android",
            Self::Mac => "macOS",
        }
    }
    pub(super) fn versions(self) -> &'static [&'static str] {
        match self {
            Self::Windows => &["10.0.19045.5737", "10.0.22631.5335", "10.0.26100.4061"],
            Self::IPhone | Self::IPad => &["17.7.2", "18.4.1", "18.5"],
            Self::Android => &["13", "14", "15"],
            Self::Mac => &["14.7.5", "15.4.1", "15.5"],
        }
    }
    pub(super) fn hardware(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Windows => &[
                ("Dell Inc.", "Latitude 7440"),
                ("LENOVO", "ThinkPad T14 Gen 4"),
                ("HP", "EliteBook 840 G10"),
                ("Microsoft Corporation", "Surface Laptop 6"),
            ],
            Self::IPhone => &[
                ("Apple", "iPhone 14"),
                ("Apple", "iPhone 15"),
                ("Apple", "iPhone 16 Pro"),
            ],
            Self::IPad => &[
                ("Apple", "iPad Air (5th generation)"),
                ("Apple", "iPad (10th generation)"),
            ],
            Self::Android => &[
                ("samsung", "SM-S921B"),
                ("Google", "Pixel 8"),
                ("motorola", "moto g84 5G"),
            ],
            Self::Mac => &[
                ("Apple", "MacBook Air (M2, 2022)"),
                ("Apple", "MacBook Pro (14-inch, M3)"),
            ],
        }
    }
    pub(super) fn enrollment_types(self) -> &'static [(&'static str, u32)] {
        match self {
            Self::Windows => &[
                ("WindowsAzureADJoin", 60),
                ("WindowsAutoEnrollment", 25),
                ("WindowsCoManagement", 15),
            ],
            Self::IPhone | Self::IPad | Self::Mac => {
                &[("AppleBulkWithUser", 65), ("UserEnrollment", 35)]
            }
            Self::Android => &[("UserEnrollment", 70), ("DeviceEnrollmentManager", 30)],
        }
    }
    pub(super) fn agent(self) -> &'static str {
        match self {
            Self::Windows => "MDM",
            _ => "MDM",
        }
    }
}
