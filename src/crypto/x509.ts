/**
 * The one door to @peculiar/x509 inside crypto/. Its dependency tsyringe needs the Reflect
 * metadata polyfill loaded first; importing the library through this module guarantees that
 * whichever crypto/ module another layer imports first.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
