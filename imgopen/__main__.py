from imgopen.cli import main

main()
