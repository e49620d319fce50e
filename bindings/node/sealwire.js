'use strict'
// Hand-written entry point (package.json "main"): everything the generated native loader
// (index.js) exports, plus the stream and file helpers of stream.js. Types: sealwire.d.ts.
module.exports = { ...require('./index.js'), ...require('./stream.js') }
