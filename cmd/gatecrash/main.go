// Command gatecrash is a chaos test harness for HTTP reverse proxies; see README.md.
package main

import "os"

func main() { os.Exit(Main(os.Args[1:])) }
