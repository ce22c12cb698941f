// The version every service reports in heartbeats and logs; kept equal to package.json's by a test.
export const CROWSNEST_VERSION = "0.1.0";
