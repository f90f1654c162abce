#!/usr/bin/env node
import { main } from "./internal/main.js"

process.exitCode = await main(process.argv)
