// `npm start` entry: run the TypeScript demo launcher through tsx.
'use strict';
require('tsx/cjs');
require('./demo.ts').main();
