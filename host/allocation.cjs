"use strict";
// The provider object of every IpAllocation; its name in the package is its name in state (lazyProvider.cjs).
module.exports = require("./lazyProvider.cjs").lazyProvider("allocation");
