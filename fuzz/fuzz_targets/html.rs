#![no_main]
ragbase_fuzz::converter_target!(Html);
