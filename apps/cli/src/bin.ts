#!/usr/bin/env -S node --
import { main } from "./internal/main.js"

process.exitCode = await main(process.argv)
