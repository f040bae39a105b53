// Command main is the gateway function's image entry point: importing the function registers
// it, and fnmain.Run serves it on $PORT.
package main

import (
	_ "github.com/runyard/runyard/functions/gateway"
	"github.com/runyard/runyard/shared/fnmain"
)

func main() { fnmain.Run() }
