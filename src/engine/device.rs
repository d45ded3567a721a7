//! Device and dtype choice at run time: CUDA, then Metal, then the CPU, or whatever the user asks for.

use candle_core::{DType, Device};
use std::fmt;
use std::str::FromStr;

/// Which device the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceRequest {
    /// CUDA if built in and present, else Metal if built in and present, else the CPU.
    #[default]
    Auto,
    /// The CPU (all cores).
    Cpu,
    /// CUDA device by ordinal.
    Cuda(usize),
    /// Metal device by ordinal.
    Metal(usize),
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Metal(n) => write!(f, "metal:{n}"),
        }
    }
}

impl FromStr for DeviceRequest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (kind, ordinal) = match lower.split_once(':') {
            Some((k, n)) => {
                let n = n.parse::<usize>().map_err(|_| format!("bad device ordinal in '{s}'"))?;
                (k.to_string(), n)
            }
            None => (lower.clone(), 0),
        };
        match kind.as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(ordinal)),
            "metal" | "mps" => Ok(Self::Metal(ordinal)),
            _ => Err(format!("unknown device '{s}': use auto, cpu, cuda[:N] or metal[:N]")),
        }
    }
}

/// A device that could not be opened, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The binary was built without the backend the user asked for.
    #[error("{backend} was requested but this build of dtm-studio has no {backend} support: rebuild dtm-studio with the cargo feature `{feature}`")]
    NotCompiled {
        /// "CUDA" or "Metal".
        backend: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The backend is compiled in but the device did not open.
    #[error("could not open {backend} device {ordinal}: {source}")]
    Open {
        /// "CUDA" or "Metal".
        backend: &'static str,
        /// The device index.
        ordinal: usize,
        /// The driver's error.
        source: candle_core::Error,
    },
}

/// Opens the requested device. `Auto` falls back silently from CUDA to Metal to the CPU.
pub fn open_device(request: DeviceRequest) -> Result<Device, DeviceError> {
    match request {
        DeviceRequest::Cpu => Ok(Device::Cpu),
        DeviceRequest::Cuda(ordinal) => open_cuda(ordinal),
        DeviceRequest::Metal(ordinal) => open_metal(ordinal),
        DeviceRequest::Auto => {
            if let Ok(d) = open_cuda(0) {
                return Ok(d);
            }
            if let Ok(d) = open_metal(0) {
                return Ok(d);
            }
            Ok(Device::Cpu)
        }
    }
}

fn open_cuda(ordinal: usize) -> Result<Device, DeviceError> {
    if !cfg!(feature = "cuda") {
        return Err(DeviceError::NotCompiled { backend: "CUDA", feature: "cuda" });
    }
    Device::new_cuda(ordinal).map_err(|source| DeviceError::Open { backend: "CUDA", ordinal, source })
}

fn open_metal(ordinal: usize) -> Result<Device, DeviceError> {
    if !cfg!(feature = "metal") {
        return Err(DeviceError::NotCompiled { backend: "Metal", feature: "metal" });
    }
    Device::new_metal(ordinal).map_err(|source| DeviceError::Open { backend: "Metal", ordinal, source })
}

/// A device the user can pick, with its memory.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// How to ask for it.
    pub request: DeviceRequest,
    /// What to show ("CPU (16 threads)", "cuda:0 NVIDIA H200").
    pub name: String,
    /// Memory in all, in bytes, when known.
    pub total_bytes: Option<u64>,
    /// Memory free now, in bytes, when known.
    pub free_bytes: Option<u64>,
}

/// The CPU's memory from `/proc/meminfo`: (total, available) in bytes (Linux; `None` elsewhere).
fn system_memory() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// Every device this build can use: the CPU, then each CUDA and Metal device found, with memory.
/// Opens each GPU once to ask; takes a moment, so call it off the UI thread.
pub fn list_devices() -> Vec<DeviceInfo> {
    let memory = system_memory();
    let mut devices = vec![DeviceInfo {
        request: DeviceRequest::Cpu,
        name: format!("CPU ({} threads)", candle_core::utils::get_num_threads()),
        total_bytes: memory.map(|m| m.0),
        free_bytes: memory.map(|m| m.1),
    }];
    devices.extend(gpu_devices());
    devices
}

#[cfg(not(any(feature = "cuda", feature = "metal")))]
fn gpu_devices() -> Vec<DeviceInfo> {
    Vec::new()
}

#[cfg(feature = "cuda")]
fn gpu_devices() -> Vec<DeviceInfo> {
    (0..64)
        .map_while(|ordinal| Device::new_cuda(ordinal).ok().map(|_| ordinal))
        .map(|ordinal| DeviceInfo { request: DeviceRequest::Cuda(ordinal), name: format!("cuda:{ordinal}"), total_bytes: None, free_bytes: None })
        .collect()
}

#[cfg(all(feature = "metal", not(feature = "cuda")))]
fn gpu_devices() -> Vec<DeviceInfo> {
    (0..8)
        .map_while(|ordinal| Device::new_metal(ordinal).ok().map(|_| ordinal))
        .map(|ordinal| DeviceInfo { request: DeviceRequest::Metal(ordinal), name: format!("metal:{ordinal}"), total_bytes: None, free_bytes: None })
        .collect()
}

/// A short human description of a device, e.g. "cpu (2 threads)" or "cuda:0".
pub fn describe_device(device: &Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", candle_core::utils::get_num_threads()),
        Device::Cuda(_) => "cuda:0".to_string(),
        Device::Metal(_) => "metal:0".to_string(),
    }
}

/// The working dtype of a model's weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkDType(pub DType);

impl FromStr for WorkDType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float32" => Ok(Self(DType::F32)),
            "bf16" | "bfloat16" => Ok(Self(DType::BF16)),
            "f16" | "float16" | "half" => Ok(Self(DType::F16)),
            _ => Err(format!("unknown dtype '{s}': use f32, bf16 or f16")),
        }
    }
}

impl fmt::Display for WorkDType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(dtype_name(self.0))
    }
}

/// The dtype used when the user does not choose: f32 on the CPU, bf16 on GPUs.
pub fn default_dtype(device: &Device) -> DType {
    if device.is_cpu() {
        DType::F32
    } else {
        DType::BF16
    }
}

/// The short name of a dtype ("f32", "bf16", ...).
pub fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::BF16 => "bf16",
        DType::F16 => "f16",
        DType::F64 => "f64",
        DType::U8 => "u8",
        DType::U32 => "u32",
        DType::I64 => "i64",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_requests() {
        assert_eq!("cpu".parse::<DeviceRequest>(), Ok(DeviceRequest::Cpu));
        assert_eq!("CUDA:1".parse::<DeviceRequest>(), Ok(DeviceRequest::Cuda(1)));
        assert_eq!("metal".parse::<DeviceRequest>(), Ok(DeviceRequest::Metal(0)));
        assert!("tpu".parse::<DeviceRequest>().is_err());
        assert!("cuda:x".parse::<DeviceRequest>().is_err());
    }

    #[test]
    fn auto_falls_back_to_cpu_without_gpu_features() {
        if !cfg!(feature = "cuda") && !cfg!(feature = "metal") {
            assert!(open_device(DeviceRequest::Auto).map(|d| d.is_cpu()).unwrap_or(false));
            let err = open_device(DeviceRequest::Cuda(0)).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("cargo feature `cuda`"), "{err}");
        }
    }

    #[test]
    fn parses_dtypes() {
        assert_eq!("bf16".parse::<WorkDType>().map(|d| d.0), Ok(DType::BF16));
        assert!("int4".parse::<WorkDType>().is_err());
    }
}
