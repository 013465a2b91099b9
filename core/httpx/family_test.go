package httpx

import "testing"

func TestFamilyFor(t *testing.T) {
	cases := map[string]Family{
		"/api/kv/v3/put":                  FamilyEtcdmonitor,
		"/api/kv":                         FamilyEtcdmonitor,
		"/api/kvx":                        FamilyCore,
		"/api/ops/hashkv":                 FamilyEtcdmonitor,
		"/api/auth/login":                 FamilyEtcdmonitor,
		"/api/members":                    FamilyEtcdmonitor,
		"/api/current":                    FamilyEtcdmonitor,
		"/api/range":                      FamilyEtcdmonitor,
		"/api/status":                     FamilyEtcdmonitor,
		"/api/debug":                      FamilyEtcdmonitor,
		"/api/user/panel-config":          FamilyEtcdmonitor,
		"/v1/operator/raft/configuration": FamilyConsul,
		"/v1":                             FamilyCore,
		"/api/v2/nodes/":                  FamilyCockroach,
		"/api/v2/health":                  FamilyCockroach,
		"/api/v2":                         FamilyCockroach,
		"/api/cluster/status":             FamilyRobustMQ,
		"/api/cluster/tenant/list":        FamilyRobustMQ,
		"/api/tenant/create":              FamilyRobustMQ,
		"/api/plugins":                    FamilyRobustMQ,
		"/api/plugins/foo/reload":         FamilyRobustMQ,
		"/cluster/healthy":                FamilyRobustMQ,
		"/health/ready":                   FamilyRobustMQ,
		"/health":                         FamilyCore,
		"/admin/health":                   FamilyGreptime,
		"/admin":                          FamilyGreptime,
		"/administrator":                  FamilyCore,
		"/admin/procedure-manager/status": FamilyGreptime,
		"/metrics":                        FamilyCore,
		"/":                               FamilyCore,
		"":                                FamilyCore,
	}
	for path, want := range cases {
		if got := FamilyFor(path); got != want {
			t.Errorf("FamilyFor(%q) = %v, want %v", path, got, want)
		}
	}
}
