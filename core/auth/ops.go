package auth

// SetOpsEnabled records whether this node serves etcdmonitor's ops API
// (/api/ops/*), which GET /api/auth/status reports as ops_enabled so the
// frontend shows or hides its ops panel. The operator module sets it when
// it mounts the ops routes; it is false until then, and stays false when
// the module or its ops_enabled option is off.
func (s *Service) SetOpsEnabled(on bool) { s.opsEnabled.Store(on) }

// OpsEnabled reports what SetOpsEnabled recorded.
func (s *Service) OpsEnabled() bool { return s.opsEnabled.Load() }
