//! The SIP message core of Convene: parser, serializer and typed headers
//! (RFC 3261 §7, §20, §25, with Microsoft's extensions from [MS-SIPRE],
//! [MS-SIPAE] and [MS-OCER]). Pure: no I/O, no clock, no threads.
