package reliability_test

import "flag"

var (
	faultUsers = flag.Int("faultsuite.users", 200, "users in TestFaultSuite (the issue's full run: 2000)")
	crashSeeds = flag.Int("crashsuite.seeds", 20, "seeds in TestCrashSuite")
)

func faultSuiteUsers() int { return max(*faultUsers, 1) }
