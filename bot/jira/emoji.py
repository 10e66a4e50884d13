"""Slack emoji shortcodes (``:smile:``) to Unicode, for the few hundred most used ones.

Slack names its standard emoji after the iamcal emoji-data set. Each row below is one emoji: its
shortcodes (the first is the canonical one, the others Slack's aliases) and its code points in hex,
joined by ``-``. Custom workspace emoji are not known here: callers leave those as ``:name:`` text.
"""

from __future__ import annotations

_ROWS = """
grinning 1F600
smiley 1F603
smile 1F604
grin 1F601
laughing satisfied 1F606
sweat_smile 1F605
rolling_on_the_floor_laughing rofl 1F923
joy 1F602
slightly_smiling_face simple_smile 1F642
upside_down_face 1F643
wink 1F609
blush 1F60A
innocent 1F607
smiling_face_with_3_hearts 1F970
heart_eyes 1F60D
star-struck star_struck grinning_face_with_star_eyes 1F929
kissing_heart 1F618
kissing 1F617
relaxed 263A-FE0F
kissing_closed_eyes 1F61A
kissing_smiling_eyes 1F619
yum 1F60B
stuck_out_tongue 1F61B
stuck_out_tongue_winking_eye 1F61C
zany_face crazy_face 1F92A
stuck_out_tongue_closed_eyes 1F61D
money_mouth_face 1F911
hugging_face hugs 1F917
face_with_hand_over_mouth 1F92D
shushing_face 1F92B
thinking_face thinking 1F914
zipper_mouth_face 1F910
face_with_raised_eyebrow 1F928
neutral_face 1F610
expressionless 1F611
no_mouth 1F636
smirk 1F60F
unamused 1F612
face_with_rolling_eyes roll_eyes 1F644
grimacing 1F62C
lying_face 1F925
relieved 1F60C
pensive 1F614
sleepy 1F62A
drooling_face 1F924
sleeping 1F634
mask 1F637
face_with_thermometer 1F912
face_with_head_bandage 1F915
nauseated_face 1F922
face_vomiting 1F92E
sneezing_face 1F927
hot_face 1F975
cold_face 1F976
woozy_face 1F974
dizzy_face 1F635
exploding_head 1F92F
face_with_cowboy_hat cowboy_hat_face 1F920
partying_face 1F973
sunglasses 1F60E
nerd_face 1F913
face_with_monocle 1F9D0
confused 1F615
worried 1F61F
slightly_frowning_face 1F641
white_frowning_face frowning_face 2639-FE0F
open_mouth 1F62E
hushed 1F62F
astonished 1F632
flushed 1F633
pleading_face 1F97A
frowning 1F626
anguished 1F627
fearful 1F628
cold_sweat 1F630
disappointed_relieved 1F625
cry 1F622
sob 1F62D
scream 1F631
confounded 1F616
persevere 1F623
disappointed 1F61E
sweat 1F613
weary 1F629
tired_face 1F62B
yawning_face 1F971
triumph 1F624
rage 1F621
angry 1F620
face_with_symbols_on_mouth cursing_face 1F92C
smiling_imp 1F608
imp 1F47F
skull 1F480
skull_and_crossbones 2620-FE0F
hankey poop shit 1F4A9
clown_face 1F921
japanese_ogre 1F479
ghost 1F47B
alien 1F47D
space_invader 1F47E
robot_face robot 1F916
smiley_cat 1F63A
smile_cat 1F638
joy_cat 1F639
heart_eyes_cat 1F63B
scream_cat 1F640
see_no_evil 1F648
hear_no_evil 1F649
speak_no_evil 1F64A
kiss 1F48B
love_letter 1F48C
cupid 1F498
gift_heart 1F49D
sparkling_heart 1F496
heartpulse 1F497
heartbeat 1F493
revolving_hearts 1F49E
two_hearts 1F495
heart_decoration 1F49F
heavy_heart_exclamation_mark_ornament 2763-FE0F
broken_heart 1F494
heart 2764-FE0F
orange_heart 1F9E1
yellow_heart 1F49B
green_heart 1F49A
blue_heart 1F499
purple_heart 1F49C
brown_heart 1F90E
black_heart 1F5A4
white_heart 1F90D
100 1F4AF
anger 1F4A2
boom collision 1F4A5
dizzy 1F4AB
sweat_drops 1F4A6
dash 1F4A8
bomb 1F4A3
speech_balloon 1F4AC
left_speech_bubble 1F5E8-FE0F
thought_balloon 1F4AD
zzz 1F4A4
wave 1F44B
raised_back_of_hand 1F91A
raised_hand_with_fingers_splayed 1F590-FE0F
hand raised_hand 270B
spock-hand 1F596
ok_hand 1F44C
pinching_hand 1F90F
v 270C-FE0F
crossed_fingers hand_with_index_and_middle_fingers_crossed 1F91E
i_love_you_hand_sign 1F91F
the_horns sign_of_the_horns 1F918
call_me_hand 1F919
point_left 1F448
point_right 1F449
point_up_2 1F446
middle_finger reversed_hand_with_middle_finger_extended 1F595
point_down 1F447
point_up 261D-FE0F
+1 thumbsup 1F44D
-1 thumbsdown 1F44E
fist raised_fist 270A
facepunch punch 1F44A
left-facing_fist 1F91B
right-facing_fist 1F91C
clap 1F44F
raised_hands 1F64C
open_hands 1F450
palms_up_together 1F932
handshake 1F91D
pray 1F64F
writing_hand 270D-FE0F
nail_care 1F485
selfie 1F933
muscle 1F4AA
brain 1F9E0
eyes 1F440
eye 1F441-FE0F
tongue 1F445
lips 1F444
baby 1F476
boy 1F466
girl 1F467
man 1F468
woman 1F469
older_man 1F474
older_woman 1F475
person_frowning 1F64D
no_good 1F645
ok_woman 1F646
information_desk_person 1F481
raising_hand 1F64B
bow 1F647
face_palm facepalm 1F926
man-facepalming 1F926-200D-2642-FE0F
woman-facepalming 1F926-200D-2640-FE0F
shrug 1F937
man-shrugging 1F937-200D-2642-FE0F
woman-shrugging 1F937-200D-2640-FE0F
male-technologist 1F468-200D-1F4BB
female-technologist 1F469-200D-1F4BB
sleuth_or_spy 1F575-FE0F
construction_worker 1F477
guardsman 1F482
santa 1F385
superhero 1F9B8
zombie 1F9DF
runner running 1F3C3
walking 1F6B6
dancer 1F483
man_dancing 1F57A
bust_in_silhouette 1F464
busts_in_silhouette 1F465
footprints 1F463
dog 1F436
cat 1F431
mouse 1F42D
hamster 1F439
rabbit 1F430
fox_face 1F98A
bear 1F43B
panda_face 1F43C
koala 1F428
tiger 1F42F
lion_face 1F981
cow 1F42E
pig 1F437
frog 1F438
monkey_face 1F435
monkey 1F412
chicken 1F414
penguin 1F427
bird 1F426
baby_chick 1F424
duck 1F986
eagle 1F985
owl 1F989
bat 1F987
wolf 1F43A
horse 1F434
unicorn_face 1F984
bee honeybee 1F41D
bug 1F41B
butterfly 1F98B
snail 1F40C
beetle 1F41E
ant 1F41C
spider 1F577-FE0F
turtle 1F422
snake 1F40D
lizard 1F98E
t-rex 1F996
octopus 1F419
crab 1F980
tropical_fish 1F420
fish 1F41F
dolphin flipper 1F42C
whale 1F433
shark 1F988
elephant 1F418
camel 1F42B
goat 1F410
sheep 1F411
racehorse 1F40E
rat 1F400
hedgehog 1F994
sloth 1F9A5
feet paw_prints 1F43E
dragon 1F409
cactus 1F335
christmas_tree 1F384
evergreen_tree 1F332
deciduous_tree 1F333
palm_tree 1F334
seedling 1F331
herb 1F33F
shamrock 2618-FE0F
four_leaf_clover 1F340
maple_leaf 1F341
fallen_leaf 1F342
leaves 1F343
mushroom 1F344
bouquet 1F490
rose 1F339
wilted_flower 1F940
tulip 1F337
cherry_blossom 1F338
sunflower 1F33B
blossom 1F33C
hibiscus 1F33A
earth_africa 1F30D
earth_americas 1F30E
earth_asia 1F30F
globe_with_meridians 1F310
new_moon 1F311
full_moon 1F315
crescent_moon 1F319
sun_with_face 1F31E
star 2B50
star2 1F31F
stars 1F320
sunny 2600-FE0F
partly_sunny 26C5
cloud 2601-FE0F
rain_cloud 1F327-FE0F
thunder_cloud_and_rain 26C8-FE0F
lightning lightning_cloud 1F329-FE0F
tornado tornado_cloud 1F32A-FE0F
fog 1F32B-FE0F
rainbow 1F308
umbrella 2602-FE0F
umbrella_with_rain_drops 2614
zap 26A1
snowflake 2744-FE0F
snowman 2603-FE0F
snowman_without_snow 26C4
fire 1F525
droplet 1F4A7
ocean 1F30A
sparkles 2728
green_apple 1F34F
apple 1F34E
pear 1F350
tangerine 1F34A
lemon 1F34B
banana 1F34C
watermelon 1F349
grapes 1F347
strawberry 1F353
cherries 1F352
peach 1F351
pineapple 1F34D
coconut 1F965
kiwifruit 1F95D
tomato 1F345
eggplant 1F346
avocado 1F951
broccoli 1F966
hot_pepper 1F336-FE0F
corn 1F33D
carrot 1F955
potato 1F954
croissant 1F950
bread 1F35E
cheese_wedge 1F9C0
egg 1F95A
fried_egg cooking 1F373
bacon 1F953
pancakes 1F95E
hamburger 1F354
fries 1F35F
pizza 1F355
hotdog 1F32D
sandwich 1F96A
taco 1F32E
burrito 1F32F
popcorn 1F37F
ramen 1F35C
spaghetti 1F35D
sushi 1F363
bento 1F371
rice 1F35A
curry 1F35B
icecream 1F366
ice_cream 1F368
doughnut 1F369
cookie 1F36A
birthday 1F382
cake 1F370
cupcake 1F9C1
chocolate_bar 1F36B
candy 1F36C
lollipop 1F36D
honey_pot 1F36F
coffee 2615
tea 1F375
beer 1F37A
beers 1F37B
wine_glass 1F377
cocktail 1F378
tropical_drink 1F379
champagne 1F37E
clinking_glasses 1F942
tumbler_glass 1F943
cup_with_straw 1F964
knife_fork_plate 1F37D-FE0F
fork_and_knife 1F374
soccer 26BD
basketball 1F3C0
football 1F3C8
baseball 26BE
tennis 1F3BE
volleyball 1F3D0
8ball 1F3B1
golf 26F3
trophy 1F3C6
sports_medal 1F3C5
first_place_medal 1F947
second_place_medal 1F948
third_place_medal 1F949
medal 1F396-FE0F
tada 1F389
confetti_ball 1F38A
balloon 1F388
gift 1F381
ribbon 1F380
jack_o_lantern 1F383
fireworks 1F386
sparkler 1F387
ticket 1F3AB
admission_tickets 1F39F-FE0F
art 1F3A8
performing_arts 1F3AD
microphone 1F3A4
headphones 1F3A7
musical_note 1F3B5
notes 1F3B6
musical_keyboard 1F3B9
guitar 1F3B8
video_game 1F3AE
game_die 1F3B2
dart 1F3AF
bowling 1F3B3
jigsaw 1F9E9
clapper 1F3AC
car red_car 1F697
taxi 1F695
bus 1F68C
ambulance 1F691
fire_engine 1F692
police_car 1F693
truck 1F69A
bike 1F6B2
racing_motorcycle 1F3CD-FE0F
airplane 2708-FE0F
rocket 1F680
helicopter 1F681
boat sailboat 26F5
ship 1F6A2
train2 1F686
bullettrain_side 1F684
anchor 2693
construction 1F6A7
fuelpump 26FD
rotating_light 1F6A8
traffic_light 1F6A5
vertical_traffic_light 1F6A6
house 1F3E0
house_with_garden 1F3E1
office 1F3E2
hospital 1F3E5
bank 1F3E6
hotel 1F3E8
school 1F3EB
factory 1F3ED
tent 26FA
world_map 1F5FA-FE0F
mountain 26F0-FE0F
snow_capped_mountain 1F3D4-FE0F
volcano 1F30B
desert_island 1F3DD-FE0F
statue_of_liberty 1F5FD
watch 231A
iphone 1F4F1
calling 1F4F2
computer 1F4BB
keyboard 2328-FE0F
desktop_computer 1F5A5-FE0F
printer 1F5A8-FE0F
three_button_mouse 1F5B1-FE0F
floppy_disk 1F4BE
cd 1F4BF
dvd 1F4C0
camera 1F4F7
camera_with_flash 1F4F8
video_camera 1F4F9
movie_camera 1F3A5
tv 1F4FA
radio 1F4FB
telephone_receiver 1F4DE
phone telephone 260E-FE0F
pager 1F4DF
battery 1F50B
electric_plug 1F50C
bulb 1F4A1
flashlight 1F526
candle 1F56F-FE0F
moneybag 1F4B0
dollar 1F4B5
euro 1F4B6
pound 1F4B7
yen 1F4B4
credit_card 1F4B3
gem 1F48E
wrench 1F527
hammer 1F528
hammer_and_wrench 1F6E0-FE0F
nut_and_bolt 1F529
gear 2699-FE0F
chains 26D3-FE0F
hocho knife 1F52A
shield 1F6E1-FE0F
crystal_ball 1F52E
pill 1F48A
syringe 1F489
dna 1F9EC
microscope 1F52C
telescope 1F52D
thermometer 1F321-FE0F
broom 1F9F9
toilet 1F6BD
shower 1F6BF
key 1F511
old_key 1F5DD-FE0F
door 1F6AA
lock 1F512
unlock 1F513
lock_with_ink_pen 1F50F
closed_lock_with_key 1F510
bell 1F514
no_bell 1F515
loudspeaker 1F4E2
mega 1F4E3
mag 1F50D
mag_right 1F50E
link 1F517
paperclip 1F4CE
linked_paperclips 1F587-FE0F
scissors 2702-FE0F
pushpin 1F4CC
round_pushpin 1F4CD
triangular_flag_on_post 1F6A9
straight_ruler 1F4CF
triangular_ruler 1F4D0
memo pencil 1F4DD
pencil2 270F-FE0F
black_nib 2712-FE0F
lower_left_ballpoint_pen 1F58A-FE0F
book open_book 1F4D6
books 1F4DA
notebook 1F4D3
ledger 1F4D2
closed_book 1F4D5
green_book 1F4D7
blue_book 1F4D8
orange_book 1F4D9
bookmark 1F516
bookmark_tabs 1F4D1
page_facing_up 1F4C4
page_with_curl 1F4C3
scroll 1F4DC
newspaper 1F4F0
clipboard 1F4CB
calendar 1F4C6
date 1F4C5
spiral_calendar_pad 1F5D3-FE0F
card_index 1F4C7
chart_with_upwards_trend 1F4C8
chart_with_downwards_trend 1F4C9
bar_chart 1F4CA
file_folder 1F4C1
open_file_folder 1F4C2
card_index_dividers 1F5C2-FE0F
wastebasket 1F5D1-FE0F
package 1F4E6
email e-mail 1F4E7
envelope 2709-FE0F
incoming_envelope 1F4E8
envelope_with_arrow 1F4E9
outbox_tray 1F4E4
inbox_tray 1F4E5
mailbox 1F4EB
postbox 1F4EE
label 1F3F7-FE0F
hourglass 231B
hourglass_flowing_sand 23F3
alarm_clock 23F0
stopwatch 23F1-FE0F
timer_clock 23F2-FE0F
crown 1F451
tophat 1F3A9
mortar_board 1F393
eyeglasses 1F453
dark_sunglasses 1F576-FE0F
necktie 1F454
shirt tshirt 1F455
jeans 1F456
briefcase 1F4BC
handbag 1F45C
school_satchel 1F392
ring 1F48D
lipstick 1F484
shopping_trolley 1F6D2
checkered_flag 1F3C1
waving_white_flag 1F3F3-FE0F
waving_black_flag 1F3F4
rainbow-flag 1F3F3-FE0F-200D-1F308
flag-us us 1F1FA-1F1F8
flag-gb gb uk 1F1EC-1F1E7
flag-de de 1F1E9-1F1EA
flag-fr fr 1F1EB-1F1F7
flag-es es 1F1EA-1F1F8
flag-it it 1F1EE-1F1F9
flag-jp jp 1F1EF-1F1F5
flag-cn cn 1F1E8-1F1F3
flag-in 1F1EE-1F1F3
flag-ca 1F1E8-1F1E6
flag-br 1F1E7-1F1F7
flag-eu 1F1EA-1F1FA
white_check_mark 2705
heavy_check_mark 2714-FE0F
ballot_box_with_check 2611-FE0F
x 274C
negative_squared_cross_mark 274E
heavy_multiplication_x 2716-FE0F
heavy_plus_sign 2795
heavy_minus_sign 2796
heavy_division_sign 2797
curly_loop 27B0
loop 27BF
question 2753
grey_question 2754
exclamation heavy_exclamation_mark 2757
grey_exclamation 2755
bangbang 203C-FE0F
interrobang 2049-FE0F
warning 26A0-FE0F
no_entry 26D4
no_entry_sign 1F6AB
octagonal_sign stop_sign 1F6D1
sos 1F198
ok 1F197
new 1F195
free 1F193
cool 1F192
up 1F199
top 1F51D
soon 1F51C
back 1F519
end 1F51A
on 1F51B
recycle 267B-FE0F
radioactive_sign radioactive 2622-FE0F
biohazard_sign biohazard 2623-FE0F
beginner 1F530
o 2B55
red_circle 1F534
large_blue_circle blue_circle 1F535
large_green_circle 1F7E2
large_yellow_circle 1F7E1
large_orange_circle 1F7E0
large_purple_circle 1F7E3
black_circle 26AB
white_circle 26AA
large_red_square 1F7E5
large_green_square 1F7E9
large_yellow_square 1F7E8
large_blue_square 1F7E6
black_large_square 2B1B
white_large_square 2B1C
small_red_triangle 1F53A
small_red_triangle_down 1F53B
large_orange_diamond 1F536
large_blue_diamond 1F537
small_orange_diamond 1F538
small_blue_diamond 1F539
arrow_up 2B06-FE0F
arrow_down 2B07-FE0F
arrow_left 2B05-FE0F
arrow_right 27A1-FE0F
arrow_upper_right 2197-FE0F
arrow_lower_right 2198-FE0F
arrow_lower_left 2199-FE0F
arrow_upper_left 2196-FE0F
arrow_up_down 2195-FE0F
left_right_arrow 2194-FE0F
arrows_counterclockwise 1F504
arrows_clockwise 1F503
leftwards_arrow_with_hook 21A9-FE0F
arrow_right_hook 21AA-FE0F
arrow_heading_up 2934-FE0F
arrow_heading_down 2935-FE0F
arrow_forward 25B6-FE0F
arrow_backward 25C0-FE0F
fast_forward 23E9
rewind 23EA
double_vertical_bar 23F8-FE0F
black_square_for_stop 23F9-FE0F
black_circle_for_record 23FA-FE0F
twisted_rightwards_arrows 1F500
repeat 1F501
information_source 2139-FE0F
abc 1F524
hash 0023-FE0F-20E3
keycap_star 002A-FE0F-20E3
zero 0030-FE0F-20E3
one 0031-FE0F-20E3
two 0032-FE0F-20E3
three 0033-FE0F-20E3
four 0034-FE0F-20E3
five 0035-FE0F-20E3
six 0036-FE0F-20E3
seven 0037-FE0F-20E3
eight 0038-FE0F-20E3
nine 0039-FE0F-20E3
keycap_ten 1F51F
copyright 00A9-FE0F
registered 00AE-FE0F
tm 2122-FE0F
heavy_dollar_sign 1F4B2
currency_exchange 1F4B1
infinity 267E-FE0F
eight_spoked_asterisk 2733-FE0F
sparkle 2747-FE0F
part_alternation_mark 303D-FE0F
wavy_dash 3030-FE0F
speaking_head_in_silhouette 1F5E3-FE0F
mute 1F507
speaker 1F508
sound 1F509
loud_sound 1F50A
"""

#: Skin-tone modifiers Slack appends as a second shortcode: ``:+1::skin-tone-3:``.
SKIN_TONES: dict[str, str] = {
    "skin-tone-2": "\U0001f3fb",
    "skin-tone-3": "\U0001f3fc",
    "skin-tone-4": "\U0001f3fd",
    "skin-tone-5": "\U0001f3fe",
    "skin-tone-6": "\U0001f3ff",
}


def _load(rows: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for row in rows.strip().splitlines():
        *names, points = row.split()
        char = "".join(chr(int(point, 16)) for point in points.split("-"))
        for name in names:
            table[name] = char
    return table


#: Shortcode without colons → the emoji's Unicode text.
EMOJI: dict[str, str] = _load(_ROWS)


def emoji_for_shortcode(name: str, skin_tone: str | None = None) -> str | None:
    """The Unicode text of ``:name:`` (optionally with ``:skin-tone-N:``), or None when unknown."""
    char = EMOJI.get(name)
    if char is None:
        return None
    modifier = SKIN_TONES.get(skin_tone or "")
    if modifier is None:
        return char
    # The modifier follows the base character and replaces its variation selector, if any.
    rest = char[1:]
    if rest.startswith("\ufe0f"):
        rest = rest[1:]
    return char[0] + modifier + rest
