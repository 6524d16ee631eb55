package reliability_test

import "flag"

var (
	faultUsers = flag.Int("faultsuite.users", 200, "users in TestFaultSuite (the issue's full run: 2000)")
	crashSeeds = flag.Int("crashsuite.seeds", 20, "seeds in TestCrashSuite")
)

func faultSuiteUsers() int { return max(*faultUsers, 1) }

var (
	serveUsers = flag.Int("serveinstances.users", 30, "users in TestServeInstancesOnPostgres (the issue's full run: 1000)")
	serveKills = flag.Int("serveinstances.kills", 4, "SIGKILLs in TestServeInstancesOnPostgres (the issue's full run: at least 20)")
)
