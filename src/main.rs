fn main() {
    std::process::exit(binarycop::cli::main());
}
