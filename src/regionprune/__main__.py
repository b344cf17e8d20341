from regionprune.cli import main

main()
